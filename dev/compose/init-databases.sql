-- Runs once, on the first start of an empty data volume. The campaign data gets its own role and
-- database on Airflow's server; the names and password are the campaigns_db connection's in
-- airflow_settings.yaml (dev/stack.py creates the same pair for the embedded stack).
CREATE ROLE campaigns LOGIN PASSWORD 'campaigns';
CREATE DATABASE campaigns OWNER campaigns;
