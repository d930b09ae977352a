"""The operator class of the `generate_report` task, so the report link attaches to it alone.

Airflow attaches a plugin's operator extra link to the tasks of the classes it names; a global
link would show on every task (and an empty "Extra Links" heading on all but one). The class
adds nothing else: it is the plain `@task` operator under its own name.
"""

from __future__ import annotations

from airflow.providers.standard.decorators.python import _PythonDecoratedOperator


class CampaignReportOperator(_PythonDecoratedOperator):
    """A `@task` whose run has a campaign report."""
