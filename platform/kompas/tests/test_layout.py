"""platform/ must not shadow the standard library module of the same name."""

import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_standard_library_platform_is_imported_inside_the_test_run():
    import platform

    assert platform.python_version().startswith("3.")
    assert Path(platform.__file__).parent == Path(sysconfig.get_paths()["stdlib"])


def test_standard_library_platform_is_imported_from_the_repo_root():
    result = subprocess.run([sys.executable, "-c", "import platform; print(platform.python_version())"],
                            cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == sys.version.split()[0]


def test_the_platform_folder_is_the_kompas_package():
    import kompas

    assert Path(kompas.__file__).parent == REPO / "platform" / "kompas"
    assert not (REPO / "platform" / "__init__.py").exists()
