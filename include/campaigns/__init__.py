"""Outbound call campaigns on Apache Airflow: one DAG per campaign row."""
