"""The shipped embedded model and data: no drift from the generator, disjoint splits, real skill."""

import json
import tempfile
from pathlib import Path

import pytest

from harness.embedded import build
from harness.embedded.datasets import write_datasets
from harness.embedded.world import make_world
from harness.models.registry import FIXTURES_DIR

ROOT = FIXTURES_DIR / "tiny-moe"
MODEL_DIR = ROOT / "model"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())


def test_shipped_data_matches_the_generator():
    assert MANIFEST["settings_sha256"] == build.settings_hash(), "generator settings changed: rebuild the fixture"
    with tempfile.TemporaryDirectory() as tmp:
        write_datasets(make_world(build.WORLD_SEED), Path(tmp))
        assert build.data_hashes(Path(tmp)) == MANIFEST["data"]
    assert build.data_hashes(ROOT / "data") == MANIFEST["data"]


def test_shipped_model_matches_the_generator_config():
    config = json.loads((ROOT / "model" / "config.json").read_text())
    for key in ("hidden_size", "num_hidden_layers", "moe_intermediate_size", "num_experts_per_tok", "vocab_size"):
        assert config[key] == build.train_mod.MODEL_CONFIG[key], key
    assert config.get("num_experts", config.get("num_local_experts")) == build.train_mod.MODEL_CONFIG["num_experts"]
    size = sum(p.stat().st_size for p in (ROOT / "model").iterdir())
    assert size < 20 * 2**20


def test_calibration_and_evaluation_never_overlap():
    data = ROOT / "data"
    cal = [json.loads(line) for line in (data / "calibration" / "medinst_calibration.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (data / "medinst" / "medinst_test.jsonl").read_text().splitlines()]
    assert not {(r["instruction"], r["input"]) for r in cal} & {(r["instruction"], r["input"]) for r in test}
    cal_text = "\n".join(r["input"] for r in cal)
    from harness.data import rct

    for review in rct.load(data / "rct"):
        assert review.articles[0][2] not in cal_text  # no evaluation abstract was used for calibration


@pytest.fixture(scope="module")
def tiny():
    from harness.models.loading import load_model, load_tokenizer, resolve

    model = resolve("tiny-moe")
    return load_model(model.path), load_tokenizer(model.path)


def test_unpruned_model_knows_its_world():
    """What the shipped model measurably can do (fixtures/tiny-moe/README.md): recall the world's facts
    (chance 1/24 and 1/32), answer Med-HALT FCT/NOTA/Fake in the official format, write RCT and news
    summaries whose numbers and units come from the source, answer MedQA/MMLU-style multiple choice
    by letter (first 40 items per set: measured FCT 0.88, RCT 0.90, news 0.90, MCQ 0.82 / 0.82)."""
    p = _profile(MODEL_DIR)
    assert p.bio_facts >= 0.95 and p.general_facts >= 0.9
    assert p.medhalt["fct"] >= 0.8 and p.medhalt["nota"] >= 0.9 and p.medhalt["fake"] >= 0.9  # FCT chance ~0.25
    assert p.rct_faithful >= 0.85 and p.rct_dose_exact >= 0.9
    assert p.news_faithful >= 0.8
    assert p.bio_mcq >= 0.75 and p.general_mcq >= 0.7  # chance 0.25


def _profile(path: Path):
    from harness.embedded.evaluate import profile
    from harness.generate.backends import BackendOptions, open_backend

    with open_backend(path, options=BackendOptions(use_cache=False)) as backend:
        return profile(backend, ROOT / "data", limit=40)


def test_pruning_effects_mirror_the_study(tmp_path):
    """Context-aware pruning at 25% keeps >= 95% of in-domain utility (biomedical facts, MedQA-style
    choice, Med-HALT FCT and NOTA) and >= 90% of number-faithful RCT summaries (measured 94-97%);
    under biomedical calibration the general domain degrades before the biomedical one (at 50%,
    number-faithful Multi-News+ summaries keep a smaller share of their baseline than RCT summaries;
    fact recall does not show it for EASY-EP, see fixtures/tiny-moe/README.md); random at 75% breaks
    reliability and summaries (Med-HALT FCT, number-faithful RCT and news summaries fall by >= 20
    points) while letter choice stays."""
    from harness.cli.prune_cmd import default_calibration
    from harness.data.calibration import CalibrationSource
    from harness.embedded.evaluate import fact_recall
    from harness.embedded.world import WORLD_SEED, make_world
    from harness.generate.backends import BackendOptions, open_backend
    from harness.models.loading import resolve
    from harness.prune.sweep import run_sweep

    model, world = resolve("tiny-moe"), make_world(WORLD_SEED)

    def recall(path):
        with open_backend(path, options=BackendOptions(use_cache=False)) as backend:
            return fact_recall(backend, world)

    base_bio, _ = recall(model.path)
    sources = [CalibrationSource.parse(s) for s in default_calibration("tiny-moe")]
    variants = {(r.variant.method, r.variant.ratio): r.path for r in run_sweep(
        model, ["easy_ep", "reap", "random"], [0.25, 0.5, 0.75], [0], sources, tmp_path / "out", tmp_path / "cache",
        show_progress=False, log=lambda _m: None)}
    base = _profile(model.path)
    for method in ("easy_ep", "reap"):
        bio, _ = recall(variants[(method, 0.25)])
        assert bio >= 0.95 * base_bio, method
        light = _profile(variants[(method, 0.25)])
        for kept, before in ((light.bio_mcq, base.bio_mcq), (light.medhalt["fct"], base.medhalt["fct"]),
                             (light.medhalt["nota"], base.medhalt["nota"])):
            assert kept >= 0.95 * before, method
        assert light.rct_faithful >= 0.9 * base.rct_faithful, method
        half = _profile(variants[(method, 0.5)])
        assert half.news_faithful / base.news_faithful < half.rct_faithful / base.rct_faithful, method
    heavy = _profile(variants[("random", 0.75)])
    assert heavy.medhalt["fct"] <= base.medhalt["fct"] - 0.2
    assert heavy.rct_faithful <= base.rct_faithful - 0.2
    assert heavy.news_faithful <= base.news_faithful - 0.2
    assert heavy.bio_mcq >= base.bio_mcq - 0.1


def test_routing_differs_between_domains(tiny):
    from harness.embedded.evaluate import routing_histograms, total_variation

    cal = ROOT / "data" / "calibration"
    hist = routing_histograms(*tiny, {"biomedical": cal / "medinst_calibration.jsonl",
                                      "general": cal / "general_calibration.jsonl"}, samples=32)
    distances = [total_variation(per["biomedical"], per["general"]) for per in hist.values()]
    assert max(distances) > 0.1  # measured 0.18-0.25 per layer on 128 samples


def test_expert_dropout_masks_a_random_subset_of_experts_each_step(monkeypatch):
    """The redundancy stage routes every training step through a random subset of each layer's experts
    (never fewer than N - expert_dropout); without dropout routing is left alone."""
    import random

    from harness.embedded import train as train_mod
    from harness.prune import verify
    from tests.families import tiny_model

    seen: list[dict[int, list[int]]] = []
    real = verify.masked_routing

    def recording(model, adapter, keep):
        seen.append(keep)
        return real(model, adapter, keep)

    monkeypatch.setattr(verify, "masked_routing", recording)
    model = tiny_model("qwen3_moe", num_experts=8)
    rng = random.Random(0)
    ids = [[rng.randrange(3, 128) for _ in range(12)] for _ in range(16)]
    log = train_mod.train(model, ids, [2] * len(ids), 0, epochs=2.0, lr=1e-3, batch_tokens=64, seed=0, expert_dropout=3)
    steps = log[-1]["step"] + 1
    assert len(seen) == steps and steps >= 4
    assert all(set(keep) == {0, 1} and all(5 <= len(k) <= 8 for k in keep.values()) for keep in seen)
    assert any(len(k) < 8 for keep in seen for k in keep.values())
    seen.clear()
    train_mod.train(model, ids, [2] * len(ids), 0, epochs=1.0, lr=1e-3, batch_tokens=64, seed=0)
    assert seen == []


def test_stream_training_runs_phases_in_order_and_learns():
    """The skills stage's trainer: phase 1 draws only its stream, phase 2 mixes streams by weight, each
    step's batch has its stream's row count, and the loss on a repeated sequence falls."""
    import random

    from harness.embedded import train as train_mod
    from tests.families import tiny_model

    model = tiny_model("qwen3_moe", num_experts=8)
    drawn: list[str] = []
    seq = [5, 9, 17, 33, 65, 3, 7, 11, 13, 19]

    def draw(name):
        def fn(rng: random.Random):
            drawn.append(name)
            return seq, 1
        return fn

    a, b = train_mod.Stream("a", 0.5, 2, draw("a")), train_mod.Stream("b", 0.5, 3, draw("b"))
    log = train_mod.train_streams(model, [(4, [a]), (20, [a, b])], pad_id=0, lr=1e-2, seed=0, expert_dropout=2,
                                  log_every=1)
    streams = [row["stream"] for row in log]
    assert len(log) == 24 and streams[:4] == ["a"] * 4 and {"a", "b"} <= set(streams[4:])
    assert drawn == [s for s in streams for _ in range({"a": 2, "b": 3}[s])]
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]


def test_a_stage_refuses_a_checkpoint_without_exactly_the_stages_before_it(tmp_path):
    """`embedded build --stage skills` on a checkpoint that lacks the redundancy stage (or already has
    the skills stage) would silently train a different model than the full build: refused before loading."""
    for done, stage in (({"base": []}, "skills"), ({"base": [], "robust": [], "skills": []}, "skills"),
                        ({"base": [], "robust": []}, "robust")):
        (tmp_path / "manifest.json").write_text(json.dumps({"train_logs": done}))
        with pytest.raises(ValueError, match=f"stage '{stage}' needs a checkpoint trained by exactly"):
            build.build_stage(tmp_path, stage)
    with pytest.raises(ValueError, match="only \\['choices', 'fct', 'robust', 'skills'\\] can run"):
        build.build_stage(tmp_path, "base")
    assert list(build.STAGES) == list(MANIFEST["train_logs"])  # the shipped checkpoint went through all stages


def test_the_choices_stage_never_trains_on_an_evaluation_item():
    """Multiple-choice items are drawn fresh each step; one equal to an evaluation item (question and
    options in the same order) is skipped, so accuracy on the shipped sets is not memorised."""
    import random

    from harness.embedded import corpus, tasks
    from harness.embedded.world import WORLD_SEED, make_world

    world = make_world(WORLD_SEED)
    assert len(build.held_out_mcq(ROOT / "data")) >= 300  # MedQA, MedMCQA, MMLU test + dev
    first = corpus.mcq_example(random.Random(5), world)
    replay = random.Random(5)  # the same draw by hand: domain, then the item
    item = tasks.bio_mcq(replay, world) if replay.random() < 0.55 else tasks.general_mcq(replay, world)
    assert item.question in first.text and first.completion == " " + "ABCD"[item.answer]
    redrawn = corpus.mcq_example(random.Random(5), world, held_out=frozenset({(item.question, item.choices)}))
    assert redrawn.text != first.text


def test_the_fct_stage_never_trains_on_a_med_halt_evaluation_item():
    """Med-HALT items (FCT, NOTA, Fake) are drawn fresh; one equal to an evaluation item (question and
    options in the same order) is skipped. The hint puts the answer above the official prompt."""
    import random

    from harness.data import medhalt
    from harness.data.prompts import medhalt as medhalt_prompts
    from harness.embedded import corpus, datasets, tasks
    from harness.embedded.world import WORLD_SEED, make_world

    world = make_world(WORLD_SEED)
    held_out = build.held_out_medhalt(ROOT / "data")
    assert len(held_out) >= 150  # FCT, NOTA and Fake test sets
    item = tasks.medhalt_item(random.Random(7), world, "fct")
    first = corpus.medhalt_example(random.Random(7), world, "fct")
    assert first.messages[0]["content"] == item.prompt() and first.messages[1]["content"] == item.target()
    hinted = corpus.medhalt_example(random.Random(7), world, "fct", hint=True)
    assert hinted.messages[0]["content"] == f"Note: the answer is {item.correct_answer}.\n" + item.prompt()
    # replaying the stream that wrote reasoning_FCT.csv: its first draw IS the file's first row, so the
    # keys read back from the files must match the ones drawn in training, or it would be trained on
    first_row = medhalt.load("fct", ROOT / "data" / "medhalt" / medhalt.FILES["fct"])[0]
    replayed = corpus.medhalt_example(datasets._rng(world, "eval-medhalt"), world, "fct")
    assert replayed.messages[0]["content"] == medhalt_prompts.build_prompt("fct", first_row.question, first_row.options)
    skipped = corpus.medhalt_example(datasets._rng(world, "eval-medhalt"), world, "fct", held_out=held_out)
    assert skipped.messages[0]["content"] != replayed.messages[0]["content"]
