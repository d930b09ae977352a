# The image every Airflow service in docker-compose.yaml runs.
#
# The layout is Astro's, so `astro dev start` works too: replace this file's body with a FROM of the
# Astro Runtime image for the same Airflow version. Its ONBUILD steps copy the project (to
# /usr/local/airflow) and install requirements.txt, and the Astro CLI applies airflow_settings.yaml.
FROM apache/airflow:3.3.2-python3.11

# Requirements first, so editing code does not re-run the install. constraints.txt is the pinned
# set the local stack and the tests use. The base image already ships the celery and fab providers
# that CeleryExecutor and the compose login need.
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt -c /opt/airflow/constraints.txt

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 dev/ /opt/airflow/dev/
COPY --chown=airflow:0 airflow_settings.yaml airflow_local_settings.py /opt/airflow/

# The project root holds the `include` and `dev` packages.
ENV PYTHONPATH=/opt/airflow
# Mount point of the shared catalog-snapshot volume; a new volume takes this ownership, and group
# 0 must write it because compose may run the containers under any uid with gid 0.
RUN mkdir -p -m 775 /opt/airflow/state
