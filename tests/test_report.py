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

from prism_eval.attackers.lexicon import LexiconBackend
from prism_eval.cli import main
from prism_eval.report import PAPER_REFERENCE, build_report, chance_scores, load_runs
from prism_eval.runner import SUMMARY, evaluate, read_results

VARIANTS = ("chain", "text-only", "image-only", "single")
OCR = LexiconBackend().reads_images  # OCR or face estimation: the lexicon sees into images


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
    assert len(sources) >= 4
    for src in sources:
        assert src.startswith("data:image/png;base64,"), src[:60]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200
    # nothing else is fetched: no link, script or stylesheet to another file
    assert not re.search(r'(?:href|src)="(?!data:)', html)


def test_markdown_references_existing_figures(audit):
    md = (audit / "report.md").read_text("utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(refs) >= 4
    for ref in refs:
        assert (audit / ref).is_file(), ref
    for v in VARIANTS:
        assert f"lexicon · {v}" in md


def test_report_tables_match_the_summaries(audit):
    md = (audit / "report.md").read_text("utf-8")
    runs = load_runs([str(audit)])
    # the order `prism audit` prints its table in
    assert [r.variant for r in runs] == ["chain", "text-only", "image-only", "single", "text-only"]
    assert runs[-1].posts_only and not any(r.posts_only for r in runs[:-1])
    row = next(line for line in md.splitlines() if line.startswith("| religion |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    for run, cell in zip(runs, cells[1:]):
        a = run.scores["attributes"]["religion"]
        # without OCR the keyword baseline reads no pixels: image only is "not measured", not 0.0
        blind = run.variant == "image-only" and not OCR
        assert cell == ("not measured" if blind else f"{100 * a['top1']:.1f}")
    assert "revealed explicitly" in md and "planned in image" in md


def test_report_labels_models_data_and_what_was_not_measured(audit):
    md = (audit / "report.md").read_text("utf-8")
    runs_table = md.split("## Runs", 1)[1].split("\n## ", 1)[0]
    assert "keyword baseline (no model)" in runs_table
    assert "template posts, placeholder images (caption drawn as text)" in runs_table
    assert "posts + topics" in runs_table
    [image_only] = [r for r in load_runs([str(audit)]) if r.variant == "image-only"]
    if OCR:  # the report agrees with the summaries: every channel measured, OCR named
        assert "| – |" in runs_table and "not measured" not in runs_table.split("|---|", 1)[1]
        assert image_only.measured and "images read by OCR (tesseract" in md
    else:  # the summaries' reason, for chain, image only and single
        assert runs_table.count("image: no OCR engine") == 3 and not image_only.measured
    # no markup in the Markdown
    assert "&nbsp;" not in md and not re.search(r"<[a-z/][^>]*>", md)


def test_report_opens_with_three_sentences_from_the_numbers(audit):
    from prism_eval.report_facts import lead_run, numbers, summary_sentences
    runs = load_runs([str(audit)])
    s1, s2, s3 = summary_sentences(runs)
    chain = numbers(lead_run(runs))["all"]  # posts-only leads when the audit has it
    assert s1.startswith("What leaked:") and "keyword baseline (no model)" in s1
    assert s2.startswith("Through which channel:")
    if OCR:  # what the images add to the posts and topics, and what they give alone
        assert "adding the images to posts + topics moves the mean top-1 by" in s2
        assert "images alone reach a mean top-1 of" in s2
    else:
        assert "images were not measured (no OCR engine" in s2
    assert "the topics the users follow add" in s2  # the default audit runs posts-only
    assert s3.startswith("How far above chance:")
    for v in (chain["top1"], chain["chance_matched"], chain["answered"], chain["answered_chance"]):
        assert f"{100 * v:.1f}%" in s3
    md = (audit / "report.md").read_text("utf-8")
    assert md.split("## ")[1].startswith("What this audit found")
    assert f"**What leaked:** {s1.partition(': ')[2]}" in md


@pytest.fixture(scope="module")
def audit_posts_only(audit, tmp_path_factory) -> Path:
    """The audit plus a run of text only without topics, named posts-only, and its report."""
    out = tmp_path_factory.mktemp("posts") / "audit"
    shutil.copytree(audit, out)
    assert main(["evaluate", "--dataset", "synthetic", "--n-users", "40", "--variant", "text-only",
                 "--no-topics", "--model", "lexicon", "--out", str(out / "posts-only"),
                 "--no-progress"]) == 0
    assert main(["report", str(out)]) == 0
    return out


def test_topic_leakage_is_measured_with_a_posts_only_run(audit_posts_only):
    from prism_eval.report import fig_leakage
    from prism_eval.report_facts import summary_sentences
    runs = load_runs([str(audit_posts_only)])
    assert [(r.variant, r.topics) for r in runs][-1] == ("text-only", False)
    assert runs[-1].label == "lexicon · text-only · posts only" and runs[-1].inputs == "posts only"
    s1, s2, _ = summary_sentences(runs)
    assert s1.startswith("What leaked: from posts alone")
    assert "the topics the users follow add" in s2 and "hobbies +" in s2
    # the leakage-mode figure speaks of the posts-only run
    fig = fig_leakage(runs).figure
    assert fig.axes[0].get_title().startswith("lexicon · text-only · posts only:")
    md = (audit_posts_only / "report.md").read_text("utf-8")
    assert "+ topics (text-only: posts + topics − posts only)" not in md  # in the figure only
    assert "![Which input leaks](figures/channels.png)" in md


def _bar_axes(fig):
    from matplotlib.patches import Rectangle
    for ax in fig.axes:
        yield ax, [p for p in ax.patches if isinstance(p, Rectangle)]


def _check_figures(runs, md: str):
    """Each figure has data (and every bar a height), or its reason is stated in the report."""
    from prism_eval.report import report_figures
    results = report_figures(runs)
    assert [f.name for f in results] == ["accuracy", "heatmap", "channels", "leakage",
                                         "parse_failures", "cost", "paper"]
    drawn = {}
    for f in results:
        if f.figure is None:
            assert f.reason and f"{f.title}: {f.reason}." in md, f.name
            continue
        drawn[f.name] = f.figure
        assert f"![{f.title}](figures/{f.name}.png)" in md
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        canvas = FigureCanvasAgg(f.figure)
        canvas.draw()
        box = f.figure.bbox
        for ax, bars in _bar_axes(f.figure):
            if ax.get_label() == "<colorbar>":
                continue
            # no empty panel: every axes shows bars or an image
            assert bars or ax.images, (f.name, ax.get_title())
            for b in bars:  # a zero is drawn (a stub), never an invisible bar
                assert abs(b.get_height()) > 0 and abs(b.get_width()) > 0, (f.name, ax.get_title())
            # titles and legends fit inside the figure
            renderer = canvas.get_renderer()
            for artist in [ax.title, ax.get_legend()]:
                if artist is not None and artist.get_visible() and getattr(artist, "get_text", lambda: "x")():
                    e = artist.get_window_extent(renderer)
                    assert e.x0 >= box.x0 - 1 and e.x1 <= box.x1 + 1, (f.name, ax.get_title())
                    assert e.y0 >= box.y0 - 1 and e.y1 <= box.y1 + 1, (f.name, ax.get_title())
            # legends sit outside the data
            for legend in [ax.get_legend(), *f.figure.legends]:
                if legend is not None:
                    e = legend.get_window_extent(renderer)
                    assert not e.overlaps(ax.get_window_extent(renderer)), (f.name, ax.get_title())
                    assert e.x0 >= box.x0 - 1 and e.x1 <= box.x1 + 1 and e.y0 >= box.y0 - 1
                    assert e.y1 <= box.y1 + 1, (f.name, ax.get_title())
    return drawn


def test_every_figure_has_data_or_a_stated_reason(audit_posts_only):
    runs = load_runs([str(audit_posts_only)])
    md = (audit_posts_only / "report.md").read_text("utf-8")
    drawn = _check_figures(runs, md)
    assert {"accuracy", "heatmap", "channels", "leakage", "cost"} <= set(drawn)
    assert "Parse failures: no answer of any run failed to parse" in md
    # zeros are hatched stubs: without topics, nothing the plan leaves unrevealed is found
    [posts_only] = [r for r in runs if r.posts_only]
    assert posts_only.scores["unrevealed"]["top1"] == 0.0
    stubs = [b for _, bars in _bar_axes(drawn["leakage"]) for b in bars if b.get_hatch()]
    assert len(stubs) >= 5
    # a comparison of identical runs is said in words, not drawn as a row of zeros
    sentence = "one prompt changes nothing — runs 1 and 4 score alike on every attribute."
    alike = runs[0].scores["attributes"] == runs[3].scores["attributes"]  # chain and single
    assert (sentence in md) == alike
    [ax] = [a for a in drawn["channels"].axes]
    assert [t.get_text() for t in ax.get_legend().get_texts()][0].startswith("+ topics")
    # with OCR image only is measured and drawn; without, it has no bar anywhere, only its reason
    assert [r.measured for r in runs if r.variant == "image-only"] == [OCR]
    legends = [t.get_text() for fig in drawn.values() for ax in fig.axes if ax.get_legend()
               for t in ax.get_legend().get_texts()]
    assert any("image-only" in t for t in legends) == OCR
    assert ("(lexicon · image-only): the whole run not measured — no OCR engine" in md) != OCR
    # the heat map keeps one decimal
    texts = [t.get_text() for t in drawn["heatmap"].axes[0].texts]
    assert all(re.fullmatch(r"\d+\.\d|not\nmeasured", t) for t in texts)
    # the model-seconds panel is left out with its reason (the lexicon takes no model time)
    assert [ax.get_title() for ax in drawn["cost"].axes] == ["model calls per user",
                                                            "tokens per user (prompt + completion)"]
    assert "model seconds per user: 0 in every run" in md


def test_paper_numbers_appear_only_beside_v1_runs(audit, two_models, tmp_path):
    from prism_eval.report import fig_paper
    md = (audit / "report.md").read_text("utf-8")
    assert "## Published numbers" not in md and "54.50" not in md and "44.83" not in md
    assert "the paper's numbers are from PRISM v1 and no run here is on v1" in md
    # a report of v1 runs and synthetic runs: the paper's chart names the v1 runs only
    a, b = two_models
    runs = load_runs([str(a), str(b), str(audit / "chain")])
    labels = [t.get_text() for t in fig_paper(runs).figure.axes[0].get_yticklabels()]
    ours = [t for t in labels if t.startswith("this report")]
    assert len(ours) == 2 and all("synthetic" not in t and "run 3" not in t for t in ours)
    out = tmp_path / "mixed"
    build_report([str(a), str(b), str(audit / "chain")], str(out))
    md = (out / "report.md").read_text("utf-8")
    _check_figures(runs, md)


def test_report_labels_the_paper_numbers(two_models, tmp_path):
    a, _ = two_models
    out = tmp_path / "v1"
    build_report([str(a)], str(out))
    md = (out / "report.md").read_text("utf-8")
    section = md.split("## Published numbers (taken from the paper)", 1)[1].split("\n## ", 1)[0]
    assert "2511.03248" in section
    lo, hi = PAPER_REFERENCE["models_text_image"]
    for number in ("30.00", "54.50", f"{lo:.2f}–{hi:.2f}"):
        assert number in section
    assert "not as a like-for-like comparison" in section
    assert "scoring rules, which it does not publish" in section
    assert "Run 1 is a keyword baseline, not an M-LLM" in section
    _check_figures(load_runs([str(a)]), md)


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
    assert head.count(": top-1") == 2
    # v1 has no leakage plan: no leakage section (its reason is listed at the end); one model
    # per variant: no variant comparison
    assert "## Accuracy by leakage mode" not in md and "## Which input leaks" not in md
    assert "no run has a leakage plan" in md
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
    (["audit", "--variants", "chain,both"], "variants 'chain,both': choose from"),
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
    assert "dummy · image-only" in md and "## Accuracy by leakage mode" not in md
    assert "PRISM v1 release: published posts and images" in md


def test_not_measured_follows_the_summary_and_old_runs_keep_their_reason(audit, tmp_path):
    """The image channel is "not measured" when the run's summary says so (a text-only model, the
    keyword baseline without OCR); a keyword-baseline run recorded before summaries said so (no
    ``not_measured``, no ``image_reader``) read no pixels and is reported so."""
    new = tmp_path / "new"
    shutil.copytree(audit / "image-only", new)
    summary = _summary(new)
    [run] = load_runs([str(new)])
    assert run.measured == (not summary["not_measured"])
    old = tmp_path / "old"
    shutil.copytree(audit / "image-only", old)
    summary.pop("not_measured")
    for b in summary["backends"].values():
        b.pop("image_reader", None)
    (old / SUMMARY).write_text(json.dumps(summary), encoding="utf-8")
    [run] = load_runs([str(old)])
    assert not run.measured and "made before its OCR image baseline" in run.not_measured["image"]
    # a summary that records the channel as not measured is believed, whatever the backend
    told = tmp_path / "told"
    shutil.copytree(audit / "image-only", told)
    summary = _summary(told)
    summary["not_measured"] = {"image": "the model reads no images"}
    (told / SUMMARY).write_text(json.dumps(summary), encoding="utf-8")
    [run] = load_runs([str(told)])
    assert run.not_measured == {"image": "the model reads no images"} and run.image_reader is None


def test_paper_sentence_is_said_once_for_runs_that_score_alike(two_models, tmp_path):
    a, _ = two_models
    out = tmp_path / "twice"
    build_report([f"first={a}", f"second={a}"], str(out))
    md = (out / "report.md").read_text("utf-8")
    section = md.split("## Published numbers (taken from the paper)", 1)[1].split("\n## ", 1)[0]
    assert section.count("a keyword baseline, not an M-LLM") == 1
    assert "Runs 1 and 2 are each a keyword baseline, not an M-LLM: their religion top-1" in section


def test_each_warning_is_printed_once_per_command_above_the_bars(capsys):
    """The runs of an audit load the data and build backends again; a warning they repeat (e.g.
    v1 without its images folder) is printed once, through tqdm so it never lands inside a bar."""
    import logging
    import sys

    from prism_eval.cli import _console_logging
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    root.addHandler(handler)
    try:
        with _console_logging():
            for _ in range(3):
                logging.getLogger("prism_dataset.builder").warning("folder 'images' is absent")
            logging.getLogger("prism_eval.chain").warning("another warning")
            logging.getLogger("prism_eval.chain").warning("another warning")
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    assert err.count("folder 'images' is absent") == 1 and err.count("another warning") == 1
    assert not handler.filters  # nothing left behind for the next command


def test_audit_table_says_not_measured_when_the_data_has_no_images(v1_dir, tmp_path, capsys):
    """v1 without its images folder: the printed table, like the report, has no 0.0% image row."""
    release = make_release(v1_dir, tmp_path / "release", n_users=4, images=False)
    out = tmp_path / "audit"
    assert main(["audit", "--dataset", "v1", "--data-dir", str(release), "--variants",
                 "image-only,text-only", "--out", str(out), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    image = next(line for line in lines if line.startswith("image-only"))
    assert "not measured: the data has no images (0 of" in image and "%" not in image
    assert next(line for line in lines if line.startswith("text-only")).endswith("0")
    [run] = [r for r in load_runs([str(out)]) if r.variant == "image-only"]
    assert not run.measured and "no user has an image" in run.not_measured["image"]


def test_opening_says_so_when_answers_could_not_be_read(two_models, tmp_path):
    """A run whose every answer failed to parse (a small model writing prose) measured no
    leakage: the opening says so instead of "no attribute above chance"."""
    from prism_eval.report_facts import summary_sentences
    a, _ = two_models
    run = tmp_path / "unread"
    shutil.copytree(a, run)
    summary = _summary(run)
    summary["scores"]["parse_failure_rate"] = 1.0
    (run / SUMMARY).write_text(json.dumps(summary), encoding="utf-8")
    s1, _, s3 = summary_sentences(load_runs([str(run)]))
    assert s1.startswith("What leaked: nothing can be told — every answer of the keyword baseline")
    assert "failed to parse (100.0% parse failures)" in s1
    assert s3.endswith("100.0% of its answers could not be read (parse failures, counted as "
                       "unanswered).")
    s1, _, s3 = summary_sentences(load_runs([str(a)]))  # none unread: nothing said
    assert "parse" not in s1 + s3
