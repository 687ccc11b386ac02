"""`pip install .` for real: the checkout's wheel in a fresh virtualenv, run from a folder outside
the checkout, so every file the package reads (migrations, templates, the sample day) must come
with it.

Nothing is downloaded: uv builds the wheel offline (setuptools from the cache `make install`
filled) and the new virtualenv sees this one's pinned dependencies through a .pth file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from newswatch import models, sample_day

REPO = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")  # installed into .venv by `make install`


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh virtualenv with newswatch installed from the checkout's wheel."""
    root = tmp_path_factory.mktemp("install")
    dist, env = root / "dist", root / "venv"
    # uv builds an sdist, then the wheel from it: a file missing from either is missing here.
    subprocess.run([UV, "build", "--offline", "--quiet", "--out-dir", dist, REPO], check=True)
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "newswatch-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (wheel,) = dist.glob("newswatch-*.whl")
    subprocess.run(
        [UV, "pip", "install", "--offline", "--quiet", "--no-deps", "--python", python, wheel],
        check=True,
    )
    return env / "bin"


def test_wheel_ships_every_file_of_the_package_and_of_sql(installed: Path) -> None:
    located = subprocess.run(
        [
            installed / "python",
            "-c",
            "import newswatch, newswatch_sql as s; print(newswatch.__file__, s.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=installed,
    ).stdout.split()
    package, sql = (Path(init).parent for init in located)
    assert not package.is_relative_to(REPO) and not sql.is_relative_to(REPO)

    def files(folder: Path) -> set[Path]:
        return {
            path.relative_to(folder)
            for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    assert files(REPO / "plugins" / "newswatch") <= files(package)
    assert files(REPO / "sql") <= files(sql)


def test_installed_newswatch_migrates_and_runs_outside_the_checkout(
    installed: Path, empty_database_url: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSWATCH_")}
    env.pop("PYTHONPATH", None)
    env.update(
        {
            "NEWSWATCH_DATABASE_URL": empty_database_url,
            "NEWSWATCH_ALLOW_HOSTS": "127.0.0.1",
            "NEWSWATCH_PER_HOST_INTERVAL": "0",
            "NEWSWATCH_EXTRACT_WORKERS": "1",
        }
    )
    newswatch = installed / "newswatch"
    subprocess.run([newswatch, "db", "upgrade"], cwd=elsewhere, env=env, check=True)
    with sample_day.serve() as day:
        config = day.write_config(tmp_path / "config", REPO / "config" / "topics.yaml")
        run = subprocess.run(
            [newswatch, "run", "--config", config, "--json"],
            cwd=elsewhere,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    assert json.loads(run.stdout)["counts"]["articles_new"] > 0
    engine = create_engine(empty_database_url)
    with engine.connect() as conn:
        assert (conn.scalar(select(func.count()).select_from(models.Article)) or 0) > 0
    engine.dispose()
    # Without NEWSWATCH_VAR_DIR the file outbox is var/ in the working directory.
    assert list((elsewhere / "var" / "outbox").glob("alert.*.eml"))


@pytest.mark.parametrize("install", ["editable", "wheel"])
def test_migrations_are_found_when_airflow_imports_newswatch_from_plugins(
    install: str, installed: Path, tmp_path: Path
) -> None:
    # Airflow puts plugins/ on sys.path, so newswatch comes from there while newswatch_sql comes
    # from the install: sql/ itself through the editable finder (`make install`), or the wheel.
    python = sys.executable if install == "editable" else installed / "python"
    probe = (
        "import newswatch; from newswatch import sql_files\n"
        "with sql_files.migrations_dir() as path: print(newswatch.__file__, path / 'env.py')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    out = subprocess.run(
        [python, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout
    package, env_py = out.split()
    assert package == str(REPO / "plugins" / "newswatch" / "__init__.py")
    assert Path(env_py).read_text() == (REPO / "sql" / "migrations" / "env.py").read_text()


def test_a_checkout_keeps_its_config_and_var_from_any_folder(tmp_path: Path) -> None:
    # The editable install `make` made: a command run elsewhere still uses the checkout's files
    # (an installed wheel, which has no checkout, uses the working directory's: above).
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSWATCH_")}
    probe = "from newswatch.settings import get_settings as g; print(g().config_dir, g().var_dir)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True
    )
    assert out.stdout.decode().split() == [str(REPO / "config"), str(REPO / "var")]
