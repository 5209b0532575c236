"""Metaflow extension packages (``metaflow_extensions``) under flowc: an organisation's config
values, exceptions, top-level names, promoted plugin modules, and its step and flow decorators
with their task hooks. The package is built here, put on ``PYTHONPATH`` as an installed one
would be on ``sys.path``, and every flow runs for real through ``flowc run``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.conftest import artifacts, run_flow

FILES = {
    "config/mfextinit_acme.py": """
        from metaflow.metaflow_config_funcs import from_conf

        ACME_BUCKET = "acme-data"
        ACME_RETRIES = from_conf("ACME_RETRIES", 2)
        ACME_ZONES = from_conf("ACME_ZONES", ["a"])
    """,
    "exceptions/mfextinit_acme.py": """
        from metaflow.exception import MetaflowException

        class AcmeQuotaError(MetaflowException):
            headline = "Quota exceeded"
    """,
    "toplevel/mfextinit_acme.py": "toplevel = 'acme_toplevel'\n",
    "toplevel/acme_toplevel.py": """
        __mf_extensions__ = "acme"
        TEAM = "forecasting"

        def team_bucket(name):
            return "s3://acme/" + name
    """,
    "plugins/mfextinit_acme.py": """
        STEP_DECORATORS_DESC = [("audited", ".audit.AuditDecorator")]
        FLOW_DECORATORS_DESC = [("acme_flow", ".flow_opts.AcmeFlowDecorator")]
        __mf_promote_submodules__ = ["acme_tools", "frameworks"]
    """,
    "plugins/audit.py": """
        from metaflow.decorators import StepDecorator

        class AuditDecorator(StepDecorator):
            name = "audited"
            defaults = {"label": "none", "forgive": False}

            def task_pre_step(self, step_name, task_datastore, metadata, run_id, task_id,
                              flow, graph, retry_count, max_user_code_retries, ubf_context, inputs):
                flow.audit_pre = (step_name, task_id, retry_count, self.attributes["label"],
                                  tuple(graph[step_name].out_funcs))

            def task_decorate(self, step_func, flow, graph, retry_count, max_retries, ubf):
                def wrapped():
                    flow.wrapped = True
                    return step_func()
                return wrapped

            def task_post_step(self, step_name, flow, graph, retry_count, max_retries):
                flow.audit_post = step_name

            def task_exception(self, exception, step_name, flow, graph, retry_count, max_retries):
                flow.seen_exception = type(exception).__name__
                return self.attributes["forgive"]
    """,
    "plugins/flow_opts.py": """
        from metaflow import current
        from metaflow.decorators import FlowDecorator

        class AcmeFlowDecorator(FlowDecorator):
            name = "acme_flow"
            options = {"region": dict(default="eu-west-1", help="Where the data lives")}

            def flow_init(self, flow, graph, environment, flow_datastore, metadata, logger,
                          echo, options):
                current._update_env({"acme_region": options["region"]})
    """,
    "plugins/acme_tools/__init__.py": "def double(x):\n    return 2 * x\n",
    "plugins/cards/acme_card/__init__.py": """
        from metaflow.cards import MetaflowCard

        class AcmeCard(MetaflowCard):
            type = "acme_card"

            def render(self, task):
                return "<html><body>acme card of " + task.pathspec + "</body></html>"

        CARDS = [AcmeCard]
    """,
    "plugins/cards/half_installed/__init__.py": """
        from metaflow.cards import MetaflowCard

        class HalfCard(MetaflowCard):
            type = "half_card"

            def render(self, task):
                return "never"

        raise ImportError("a dependency of this card package is missing")
    """,
    "plugins/frameworks/__init__.py": "",
    "plugins/frameworks/pytorch.py": """
        from metaflow.plugins.frameworks._orig.pytorch import setup_torch_distributed

        def acme_setup():
            return setup_torch_distributed(master_port=29500)
    """,
}

FLOW = """
from metaflow import FlowSpec, step, audited, acme_flow, TEAM, team_bucket


@acme_flow
class AcmeFlow(FlowSpec):
    @audited(label="first")
    @step
    def start(self):
        from metaflow.metaflow_config import ACME_BUCKET, ACME_RETRIES, ACME_ZONES
        from metaflow.exception import AcmeQuotaError
        from metaflow.plugins.acme_tools import double
        from metaflow.plugins.frameworks.pytorch import acme_setup
        from metaflow import current

        self.bucket = ACME_BUCKET
        self.conf = (ACME_RETRIES, ACME_ZONES)
        self.error_kind = AcmeQuotaError("x").headline
        self.doubled = double(21)
        self.team = (TEAM, team_bucket("a"))
        self.region = current.acme_region
        self.torch_env = acme_setup()
        self.next(self.risky)

    @audited(forgive=True)
    @step
    def risky(self):
        self.before = "kept"
        raise ValueError("forgiven by the plugin")
        self.next(self.end)

    @step
    def end(self):
        from metaflow import current

        self.region = current.acme_region
"""


@pytest.fixture
def extension(tmp_path: Path) -> Path:
    root = tmp_path / "site" / "metaflow_extensions" / "acme"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path / "site"


def _env(site: Path, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), **extra}


def test_extension_package_loads_into_metaflow(tmp_path, extension):
    flow = tmp_path / "acme_flow.py"
    flow.write_text(FLOW)
    env = _env(extension, METAFLOW_REGION="us-east-2", METAFLOW_ACME_RETRIES="5")
    proc, run_id = run_flow(flow, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    start = artifacts(tmp_path, "AcmeFlow", run_id, "start")
    assert start["bucket"] == "acme-data"  # config extension point
    assert start["conf"] == (5, ["a"])  # from_conf: the environment, as the default's type
    assert start["error_kind"] == "Quota exceeded"  # exceptions extension point
    assert start["doubled"] == 42  # __mf_promote_submodules__
    assert start["team"] == ("forecasting", "s3://acme/a")  # toplevel names in `metaflow`
    assert start["region"] == "us-east-2"  # flow decorator option from METAFLOW_REGION
    # the extension replaced metaflow.plugins.frameworks and reached flowc's under _orig
    assert start["torch_env"]["MASTER_PORT"] == "29500"
    assert start["torch_env"]["WORLD_SIZE"] == "1" and start["torch_env"]["NODE_RANK"] == "0"
    # the step decorator's hooks, in Metaflow's order and arguments
    assert start["audit_pre"] == ("start", "0", 0, "first", ("risky",))
    assert start["wrapped"] is True and start["audit_post"] == "start"
    risky = artifacts(tmp_path, "AcmeFlow", run_id, "risky")
    assert risky["seen_exception"] == "ValueError" and risky["before"] == "kept"
    assert risky["audit_post"] == "start"  # inherited: the step raised, no post-step hook
    assert risky["audit_pre"][0] == "risky" and risky["audit_pre"][3] == "none"  # default
    end = artifacts(tmp_path, "AcmeFlow", run_id, "end")
    assert end["region"] == "us-east-2" and end["audit_pre"][0] == "risky"  # end: no hooks


def test_flow_option_default_and_unclaimed_exception(tmp_path, extension):
    flow = tmp_path / "acme_flow.py"
    flow.write_text(FLOW.replace("@audited(forgive=True)", "@audited"))
    proc, run_id = run_flow(flow, cwd=tmp_path, env=_env(extension))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ValueError: forgiven by the plugin" in proc.stdout + proc.stderr
    start = artifacts(tmp_path, "AcmeFlow", run_id, "start")
    assert start["region"] == "eu-west-1"  # the option's default


def test_wrong_decorator_attribute_is_located(tmp_path, extension):
    flow = tmp_path / "acme_flow.py"
    flow.write_text(FLOW.replace('@audited(label="first")', '@audited(colour="red")'))
    proc, _ = run_flow(flow, cwd=tmp_path, env=_env(extension))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "acme_flow.py:7:" in proc.stderr and "@audited has no attribute 'colour'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_broken_extension_names_its_file(tmp_path, extension):
    broken = extension / "metaflow_extensions" / "acme" / "plugins" / "audit.py"
    broken.write_text("raise RuntimeError('half-installed')\n")
    flow = tmp_path / "acme_flow.py"
    flow.write_text(FLOW)
    proc, _ = run_flow(flow, cwd=tmp_path, env=_env(extension))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if "half-installed" in ln]
    assert line and str(broken) in line[0] and "Fix or uninstall the extension package" in line[0]
    assert "Traceback" not in proc.stderr


def test_no_extension_no_cost(tmp_path):
    """Without an extension package the stand-in still offers flowc's own frameworks module."""
    flow = tmp_path / "plain.py"
    flow.write_text(
        textwrap.dedent(
            """
            from metaflow import FlowSpec, step


            class PlainFlow(FlowSpec):
                @step
                def start(self):
                    from metaflow.plugins.frameworks.pytorch import setup_torch_distributed

                    self.env = setup_torch_distributed()
                    self.next(self.end)

                @step
                def end(self):
                    pass
            """
        )
    )
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = artifacts(tmp_path, "PlainFlow", run_id, "start")["env"]
    assert env["MASTER_ADDR"] and env["NUM_NODES"] == "1"


def test_extension_decorators_compile_and_run_in_the_task_contract(
    tmp_path, extension, monkeypatch
):
    """An extension's decorators need no orchestrator equivalent: they act inside ``flowc task``.
    Compiled for Argo and run by tests/argo_runner.py (a simulator of Argo's DAG semantics: no
    cluster here), every task stores what ``flowc run`` stores; KFP's compile accepts them."""
    from tests.conftest import run_flowc
    from tests.test_argo_run import assert_same_as_local, run_argo

    monkeypatch.setenv("PYTHONPATH", _env(extension)["PYTHONPATH"])
    monkeypatch.setenv("METAFLOW_REGION", "ap-south-1")
    flow = tmp_path / "acme_flow.py"
    flow.write_text(FLOW)
    run_argo(flow, tmp_path, "acme-1")
    got = assert_same_as_local(tmp_path, flow, "AcmeFlow", "acme-1")
    assert {s for s, _ in got} == {"start", "risky", "end"}
    assert artifacts(tmp_path, "AcmeFlow", "acme-1", "end")["region"] == "ap-south-1"
    out = tmp_path / "acme.yaml"
    proc = run_flowc(
        "compile",
        str(flow),
        "--target",
        "kfp",
        "--image",
        "acme:1",
        "--datastore",
        "s3://b/p",
        "-o",
        str(out),
    )
    assert proc.returncode == 0 and out.exists(), proc.stderr
    assert "step-decorator" not in proc.stderr and "flow-decorator" not in proc.stderr


def test_with_adds_an_extension_decorator_to_every_step(tmp_path, extension):
    flow = tmp_path / "acme_flow.py"
    flow.write_text(FLOW.replace("@audited(forgive=True)", "@audited(forgive=True, label='own')"))
    proc, run_id = run_flow(
        flow, "--with", "audited:label='everywhere'", cwd=tmp_path, env=_env(extension)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert artifacts(tmp_path, "AcmeFlow", run_id, "start")["audit_pre"][3] == "first"  # its own
    assert artifacts(tmp_path, "AcmeFlow", run_id, "risky")["audit_pre"][3] == "own"
    assert artifacts(tmp_path, "AcmeFlow", run_id, "end")["audit_pre"][:4] == (
        "end",
        "0",
        0,
        "everywhere",
    )
    proc, _ = run_flow(flow, "--with", "audited:colour=1", cwd=tmp_path, env=_env(extension))
    assert (
        proc.returncode == 2
        and "--with audited:colour=1: @audited has no attribute 'colour'" in proc.stderr
    )
    proc, _ = run_flow(flow, "--with", "audit", cwd=tmp_path, env=_env(extension))
    assert (
        proc.returncode == 2
        and "unknown decorator 'audit'" in proc.stderr
        and "audited" in proc.stderr
    )


def test_card_types_from_an_extension_package(tmp_path, extension, monkeypatch):
    """``plugins/cards/<name>`` packages give card types; one that fails to import is skipped
    with a warning (its half-defined class is never used), as Metaflow skips it."""
    flow = tmp_path / "carded.py"
    flow.write_text(
        textwrap.dedent(
            """
            from metaflow import FlowSpec, card, step


            class CardedFlow(FlowSpec):
                @card(type="half_card", save_errors=False)
                @card(type="acme_card")
                @step
                def start(self):
                    self.next(self.end)

                @step
                def end(self):
                    pass
            """
        )
    )
    proc, run_id = run_flow(flow, cwd=tmp_path, env=_env(extension))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "card package metaflow_extensions.acme.plugins.cards.half_installed not loaded" in (
        proc.stdout + proc.stderr
    )
    monkeypatch.setenv("FLOWC_DATASTORE", str(tmp_path / "ds"))
    from flowc.cards import get_cards
    from flowc.client import Task

    cards = get_cards(Task(f"CardedFlow/{run_id}/start/0", _namespace_check=False))
    assert [c.type for c in cards] == ["acme_card"]  # no half_card, not even an error card
    assert f"acme card of CardedFlow/{run_id}/start/0" in cards[0].get()
