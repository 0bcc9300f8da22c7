"""`prism audit` end to end on the embedded default, and the reports of `prism report`."""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from release_factory import make_release

from prism_eval.attackers.ocr import engine
from prism_eval.cli import main
from prism_eval.report import PAPER_REFERENCE, build_report, chance_scores, load_runs
from prism_eval.runner import SUMMARY, evaluate, read_results

VARIANTS = ("chain", "text-only", "image-only", "single")
OCR = engine()[0] is not None


@pytest.fixture(scope="module")
def audit(tmp_path_factory) -> Path:
    """The README's main job, smaller: `prism audit` with its defaults on 40 synthetic users."""
    out = tmp_path_factory.mktemp("audit") / "out"
    assert main(["audit", "--n-users", "40", "--out", str(out), "--no-progress"]) == 0
    return out


def _summary(folder: Path) -> dict:
    return json.loads((folder / SUMMARY).read_text("utf-8"))


def test_audit_runs_every_variant_and_writes_the_report(audit, capsys):
    for v in VARIANTS:
        records = read_results(audit / v)
        assert len(records) == 40 and not any(r["failure"] for r in records), v
        assert _summary(audit / v)["config"]["variant"] == v
    assert (audit / "report.html").is_file() and (audit / "report.md").is_file()
    chain, text, image = (_summary(audit / v)["scores"] for v in ("chain", "text-only", "image-only"))
    if OCR:  # the lexicon reads the text in the pictures: images add answers of their own...
        assert image["coverage"] > 0 and image["top1"] > 0
        assert chain["coverage"] >= text["coverage"]
        assert all(not _summary(audit / v)["not_measured"] for v in VARIANTS)
    else:  # no OCR: the image channel is not measured (and says so), images add nothing
        assert chain["attributes"] == text["attributes"]
        assert image["coverage"] == 0.0
        assert "OCR" in _summary(audit / "image-only")["not_measured"]["image"]
    # ...and an empty answer is not a parse failure
    assert image["parse_failure_rate"] == 0.0
    # explicit cues are what the lexicon finds: explicit leakage beats implicit beats none
    assert chain["by_mode"]["explicit"]["top1"] > chain["by_mode"]["implicit"]["top1"]
    assert chain["by_mode"]["implicit"]["top1"] > chain["unrevealed"]["top1"]


def test_audit_variants_share_one_cache(audit):
    session = _summary(audit / "image-only")["session"]
    # every image-agent call of image-only was already made by chain (without OCR there is none)
    assert session["cache_hits"] >= 40 * 3 if OCR else session["cache_misses"] == 0
    assert (audit / "cache.sqlite").is_file()
    assert not any((audit / v / "cache.sqlite").exists() for v in VARIANTS)


def test_audit_resumes_without_calls(audit, capsys):
    before = {v: read_results(audit / v) for v in VARIANTS}
    assert main(["audit", "--n-users", "40", "--out", str(audit), "--no-progress"]) == 0
    for v in VARIANTS:
        assert _summary(audit / v)["session"]["cache_misses"] == 0
        assert [r["user_id"] for r in read_results(audit / v)] == [r["user_id"] for r in before[v]]
    assert "report:" in capsys.readouterr().out


def _images(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]+)"', html)


def test_html_is_self_contained(audit):
    from PIL import Image
    html = (audit / "report.html").read_text("utf-8")
    sources = _images(html)
    assert len(sources) >= 6
    for src in sources:
        assert src.startswith("data:image/png;base64,"), src[:60]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200
    # nothing else is fetched: no link, script or stylesheet to another file
    assert not re.search(r'(?:href|src)="(?!data:)', html)


def test_markdown_references_existing_figures(audit):
    md = (audit / "report.md").read_text("utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(refs) >= 6
    for ref in refs:
        assert (audit / ref).is_file(), ref
    for v in VARIANTS:
        assert f"lexicon · {v}" in md


def test_report_tables_match_the_summaries(audit):
    md = (audit / "report.md").read_text("utf-8")
    runs = load_runs([str(audit)])
    assert [r.variant for r in runs] == ["text-only", "image-only", "chain", "single"]
    row = next(line for line in md.splitlines() if line.startswith("| religion |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    for run, cell in zip(runs, cells[1:]):
        a = run.scores["attributes"]["religion"]
        assert cell == f"{100 * a['top1']:.1f} / {100 * a['top3']:.1f}"
    assert "revealed explicitly" in md and "planned in image" in md


def test_report_labels_the_paper_numbers(audit):
    md = (audit / "report.md").read_text("utf-8")
    section = md.split("## Published numbers (taken from the paper)", 1)[1].split("\n## ", 1)[0]
    assert "2511.03248" in section
    lo, hi = PAPER_REFERENCE["models_text_image"]
    for number in ("30.00", "54.50", f"{lo:.2f}–{hi:.2f}"):
        assert number in section
    assert "not as a like-for-like comparison" in section


def _browser() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(b)), None)


_CHECK = ("<script>window.addEventListener('load',function(){var i=Array.from(document.images);"
          "var bad=i.filter(function(x){return !(x.complete&&x.naturalWidth>0);});"
          "var o=document.createElement('pre');o.textContent='IMAGES '+i.length+' BROKEN '+bad.length;"
          "document.body.appendChild(o);});</script>")


def _render(browser: str, page: Path) -> tuple[int, int]:
    """(images, broken images) of a page loaded in headless Chromium."""
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--no-first-run",
                           "--disable-background-networking", "--virtual-time-budget=10000",
                           "--dump-dom", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=180)
    found = re.findall(r"IMAGES (\d+) BROKEN (\d+)", proc.stdout)
    assert found, f"no result from the browser (rc {proc.returncode}): {proc.stderr[-800:]}"
    return int(found[-1][0]), int(found[-1][1])


@pytest.mark.skipif(_browser() is None, reason="no Chromium (.ci/run installs Debian's chromium)")
def test_report_renders_every_image_in_headless_chromium(audit, tmp_path):
    browser = _browser()
    html = (audit / "report.html").read_text("utf-8")
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    assert _render(browser, page) == (len(_images(html)), 0)
    # the check can fail: a missing file is reported broken
    broken = tmp_path / "broken.html"
    broken.write_text(f'<html><body><img src="missing.png">{_CHECK}</body></html>', encoding="utf-8")
    assert _render(browser, broken) == (1, 1)


@pytest.fixture(scope="module")
def two_models(v1_dir, tmp_path_factory) -> tuple[Path, Path]:
    """A v1 release of 5 users run by two different attackers."""
    root = tmp_path_factory.mktemp("two")
    release = make_release(v1_dir, root / "release", n_users=5)
    from prism_eval.datasets_io import load_users
    ds, info = load_users("v1", data_dir=str(release))
    a, b = root / "lexicon", root / "dummy"
    evaluate(ds, "lexicon", a, dataset_info=info, progress=False)
    evaluate(ds, "dummy", b, dataset_info=info, progress=False)
    return a, b


def test_report_compares_several_results_files(two_models, tmp_path, capsys):
    a, b = two_models
    out = tmp_path / "cmp"
    assert main(["report", f"Lexicon attacker={a}", str(b / "results.jsonl"), "--out", str(out),
                 "--title", "Two attackers"]) == 0
    assert str(out / "report.html") in capsys.readouterr().out
    md = (out / "report.md").read_text("utf-8")
    assert md.startswith("# Two attackers")
    assert "Lexicon attacker" in md and "dummy · chain" in md
    head = next(line for line in md.splitlines() if line.startswith("| attribute |"))
    assert head.count("top-1 / top-3") == 2
    # v1 has no leakage plan: no leakage section; one model per variant: no variant section
    assert "leakage mode" not in md and "single agent" not in md.split("## Runs")[1].split("## Cost")[0]
    html = (out / "report.html").read_text("utf-8")
    assert all(s.startswith("data:image/png") for s in _images(html))


def test_report_of_a_killed_run_uses_the_finished_users(two_models, tmp_path):
    a, _ = two_models
    partial = tmp_path / "partial"
    partial.mkdir()
    lines = (a / "results.jsonl").read_text("utf-8").splitlines(keepends=True)
    (partial / "results.jsonl").write_text("".join(lines[:3]) + lines[3][:40], encoding="utf-8")
    shutil.copy(a / "run.json", partial / "run.json")
    [run] = load_runs([str(partial)])
    assert run.summary["users"] == 3 and run.scores["n_users"] == 3
    assert run.variant == "chain" and run.model == "lexicon"
    files = build_report([str(partial)])
    assert files["html"] == partial / "report.html" and files["html"].is_file()


def test_chance_scores():
    same = {"age": 30, "sex": "female", "religion": "Islam"}
    records = [{"truth": same}, {"truth": same}, {"truth": same}]
    c = chance_scores(records)
    assert c["top1"] == 1.0 and c["n_users"] == 3
    other = {"age": 60, "sex": "male", "religion": "Buddhism"}
    c = chance_scores([{"truth": same}, {"truth": other}])
    assert c["top1"] == 0.0
    assert chance_scores(records[:1]) is None


@pytest.mark.parametrize("argv, message", [
    (["report", "/no/such/folder"], "no such results folder"),
    (["audit", "--variants", "chain,both"], "--variants 'chain,both': choose from"),
    (["audit", "--model", "no-such-model"], "no-such-model"),
])
def test_errors_are_one_line(argv, message, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path / "o")] if argv[0] == "audit" else [])) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_audit_of_another_model_on_v1(v1_dir, tmp_path, capsys):
    """--dataset v1 --model X: the same job on the release (here 4 users with images)."""
    release = make_release(v1_dir, tmp_path / "release", n_users=4, images=True)
    out = tmp_path / "audit"
    assert main(["audit", "--dataset", "v1", "--data-dir", str(release), "--model", "dummy",
                 "--variants", "image-only,chain", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split()[:3] == ["variant", "top-1", "top-3"]
    for v in ("chain", "image-only"):
        records = read_results(out / v)
        assert len(records) == 4
        assert all(r["raw"]["image"] for r in records), v  # the image agent saw the images
        assert _summary(out / v)["config"]["dataset"]["dataset"] == "v1"
    md = (out / "report.md").read_text("utf-8")
    assert "dummy on v1" in md and "dummy · image-only" in md and "leakage mode" not in md
