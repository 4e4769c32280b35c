"""The template databases of the data tiers: their names, and the fingerprint that decides when one
is built again (no database: building one is what `python -m bench.tiers` does)."""

from bench import tiers

URL = "postgresql://postgres@127.0.0.1:5432/phb_bench"


def test_names_sit_beside_the_bench_database():
    assert tiers.template_name(URL, "M") == "phb_bench_tmpl_m"
    assert tiers.clone_name(URL, "S") == "phb_bench_s"
    assert tiers.template_name(URL, "M", 10_000) == "phb_bench_tmpl_m_10000"
    assert tiers._with_db(URL, "phb_bench_s") == "postgresql://postgres@127.0.0.1:5432/phb_bench_s"


def test_the_fingerprint_follows_the_generator_the_size_and_the_migrations(tmp_path, monkeypatch):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "benchdata.py").write_text("VERSION = 1\n")
    (tmp_path / "clinical" / "migrations").mkdir(parents=True)
    (tmp_path / "clinical" / "migrations" / "0001_initial.py").write_text("# one\n")
    monkeypatch.setattr(tiers, "SRC", tmp_path)
    first = tiers.fingerprint("M")
    assert tiers.fingerprint("M") == first
    assert tiers.fingerprint("S") != first
    assert tiers.fingerprint("M", 10_000) != first
    (tmp_path / "clinical" / "migrations" / "0002_more.py").write_text("# two\n")
    with_migration = tiers.fingerprint("M")
    assert with_migration != first
    (tmp_path / "demo" / "benchdata.py").write_text("VERSION = 2\n")
    assert tiers.fingerprint("M") not in (first, with_migration)
