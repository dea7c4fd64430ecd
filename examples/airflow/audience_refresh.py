"""Airflow DAG: refresh the Audience workspace every night (Airflow 3; `pip install
apache-airflow` on the scheduler's machine, Audience in its own virtualenv).

Exit status 3 ("done, with alerts") counts as success: the alerts already went to the
webhooks of audience.toml and are listed by `audience alerts`; 1 fails the task (the
refresh failed and raised a `refresh_failed` alert). The JSON lines of each step land in
the task's log. While `audience serve` runs on the workspace, the command runs inside it.
"""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

AUDIENCE = "/opt/audience/.venv/bin/audience"
WORKSPACE = "/srv/shop"

with DAG(
    dag_id="audience_refresh",
    schedule="15 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["audience"],
) as dag:
    BashOperator(
        task_id="refresh",
        bash_command=f"{AUDIENCE} refresh --json -w {WORKSPACE} || [ $? -eq 3 ]",
    )
