"""The original QA head (qa_tasks.py:419-533) against a literal re-statement of qa_tasks.py's graph, its
variants, beams, save/load, and the answers chosen from its beams (qa_metrics.py:90-269)."""

import numpy as np
import pytest
import torch
from datasets import Dataset
from torch.nn import functional as F
from transformers import ElectraConfig, ElectraForPreTraining

from electra_hf.tasks.qa_data import featurize_qa
from electra_hf.tasks.qa_model import ElectraForSpanQuestionAnswering, qa_config
from electra_hf.tasks.qa_predictions import predict_answers, window_candidates

from .test_qa_data import rows


@pytest.fixture(scope="module")
def discriminator_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("disc")
    config = ElectraConfig(embedding_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64)
    torch.manual_seed(0)
    ElectraForPreTraining(config).save_pretrained(path)
    return str(path)


def make_model(path, **options):
    torch.manual_seed(1)
    return ElectraForSpanQuestionAnswering.from_pretrained(path, config=qa_config(path, **options)).eval()


def batch():
    # [CLS] q q [SEP] c c c c [SEP] pad pad, and a longer second row
    input_ids = torch.tensor([[101, 7, 8, 102, 20, 21, 22, 23, 102, 0, 0],
                              [101, 7, 102, 20, 21, 22, 23, 24, 25, 26, 102]])
    token_type_ids = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]])
    attention_mask = (input_ids > 0).long()
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask}


def reference(model, inputs, start_positions=None, beam=20):
    """qa_tasks.py's get_prediction_module, written as the graph is (concatenation, tiling, one-hots)."""
    h = model.electra(**inputs).last_hidden_state
    B, L, H = h.shape
    mask = (inputs["attention_mask"] * inputs["token_type_ids"]).float() + F.one_hot(torch.tensor(0), L).float()
    start_logits = model.qa_start(h).squeeze(-1) + 1000.0 * (mask - 1)
    if start_positions is not None:
        start_features = (F.one_hot(start_positions, L).float().unsqueeze(-1) * h).sum(1)
        final = torch.cat([start_features.unsqueeze(1).expand(B, L, H), h], -1)
        end_logits = model.qa_end(F.gelu(model.qa_end_hidden(final))).squeeze(-1) + 1000.0 * (mask - 1)
        out = {"end_logits": end_logits}
    else:
        start_log_probs = start_logits.log_softmax(-1)
        top_lp, top_i = start_log_probs.topk(beam)
        start_features = (F.one_hot(top_i, L).float().unsqueeze(-1) * h.unsqueeze(1)).sum(-2)  # B, K, H
        final = torch.cat([start_features.unsqueeze(2).expand(B, beam, L, H), h.unsqueeze(1).expand(B, beam, L, H)], -1)
        end_logits = model.qa_end(F.gelu(model.qa_end_hidden(final))).squeeze(-1) + (1000.0 * (mask - 1)).unsqueeze(1)
        end_lp, end_i = end_logits.log_softmax(-1).topk(beam)
        out = {"start_top_scores": top_lp, "start_top_index": top_i, "end_top_scores": end_lp, "end_top_index": end_i}
    start_p = start_logits.softmax(-1)
    summary = torch.cat([h[:, 0], (start_p.unsqueeze(-1) * h).sum(1)], -1)
    out["answerable_logit"] = model.answerable(F.gelu(model.answerable_hidden(summary))).squeeze(-1)
    out["start_logits"] = start_logits
    return out


def test_training_loss_and_logits_match_the_original_graph(discriminator_dir):
    model = make_model(discriminator_dir)
    inputs, starts, ends = batch(), torch.tensor([5, 0]), torch.tensor([6, 0])
    impossible = torch.tensor([0.0, 1.0])
    with torch.no_grad():
        ours = model(**inputs, start_positions=starts, end_positions=ends, is_impossible=impossible)
        ref = reference(model, inputs, starts)
    assert torch.allclose(ours.start_logits, ref["start_logits"], atol=1e-5)
    assert torch.allclose(ours.end_logits, ref["end_logits"], atol=1e-5)  # split dense == dense on the concat
    ce = lambda logits, pos: -(F.one_hot(pos, logits.shape[1]) * logits.log_softmax(-1)).sum(-1)  # noqa: E731
    expected = ((ce(ref["start_logits"], starts) + ce(ref["end_logits"], ends)) / 2
                + 0.5 * F.binary_cross_entropy_with_logits(ref["answerable_logit"], impossible, reduction="none")).sum()
    assert torch.allclose(ours.loss, expected, atol=1e-5)
    # question tokens, padding are out (-1000); [CLS], the context and the final [SEP] are in
    allowed = ours.start_logits > -500
    assert allowed[0].tolist() == [True, False, False, False, True, True, True, True, True, False, False]
    # teacher forcing: another gold start changes the end logits
    with torch.no_grad():
        other = model(**inputs, start_positions=torch.tensor([4, 0]), end_positions=ends, is_impossible=impossible)
    assert not torch.allclose(other.end_logits[0], ours.end_logits[0])


def test_inference_beams_match_the_original_graph(discriminator_dir):
    model = make_model(discriminator_dir, qa_beam_size=4)
    inputs = batch()
    with torch.no_grad():
        ours = model(**inputs)
        ref = reference(model, inputs, beam=4)
    assert ours.start_top_index.shape == (2, 4) and ours.end_top_index.shape == (2, 4, 4)
    for name in ("start_top_scores", "end_top_scores"):
        assert torch.allclose(getattr(ours, name), ref[name], atol=1e-5)
    for name in ("start_top_index", "end_top_index"):
        assert torch.equal(getattr(ours, name), ref[name])
    assert torch.allclose(ours.null_score, ref["answerable_logit"], atol=1e-5)
    assert ours.loss is None and ours.start_logits is None
    # a beam wider than the sequence is padded with index 0 (never an answer) and a very low score
    wide = make_model(discriminator_dir, qa_beam_size=16)
    with torch.no_grad():
        out = wide(**inputs)
    assert out.start_top_index.shape == (2, 16) and (out.start_top_index[:, 11:] == 0).all()
    assert (out.start_top_scores[:, 11:] == -10000).all()


def test_variants(discriminator_dir):
    inputs, starts, ends = batch(), torch.tensor([5, 0]), torch.tensor([6, 0])
    independent = make_model(discriminator_dir, qa_joint_prediction=False, qa_beam_size=3)
    with torch.no_grad():
        out = independent(**inputs)
        train = independent(**inputs, start_positions=starts, end_positions=ends, is_impossible=torch.zeros(2))
    assert out.end_top_index.shape == (2, 3)  # one end beam shared by every start
    assert torch.equal(out.start_top_index, train.start_logits.topk(3).indices)
    assert torch.allclose(out.start_top_scores, train.start_logits.topk(3).values)  # logits, not log-probs
    plain = make_model(discriminator_dir, qa_answerable_classifier=False, qa_joint_prediction=False)
    assert not hasattr(plain, "answerable")
    with torch.no_grad():
        logits = plain(**inputs, start_positions=starts, end_positions=ends)
        null = plain(**inputs).null_score
    assert torch.allclose(null, logits.start_logits[:, 0] + logits.end_logits[:, 0], atol=1e-5)
    span = ((F.cross_entropy(logits.start_logits, starts, reduction="none")
             + F.cross_entropy(logits.end_logits, ends, reduction="none")) / 2).sum()
    assert torch.allclose(logits.loss, span, atol=1e-5)  # no classifier term
    with pytest.raises(ValueError, match="is_impossible"):
        make_model(discriminator_dir)(**inputs, start_positions=starts, end_positions=ends)
    with pytest.raises(ValueError, match="unknown question-answering head option"):
        qa_config(discriminator_dir, beam=3)


def test_answerable_weight(discriminator_dir):
    inputs, starts, ends, impossible = batch(), torch.tensor([5, 0]), torch.tensor([6, 0]), torch.tensor([0.0, 1.0])
    losses = {}
    for weight in (0.0, 0.5):
        with torch.no_grad():
            losses[weight] = make_model(discriminator_dir, qa_answerable_weight=weight)(
                **inputs, start_positions=starts, end_positions=ends, is_impossible=impossible).loss
    with torch.no_grad():
        logit = reference(make_model(discriminator_dir), inputs, starts)["answerable_logit"]
    bce = F.binary_cross_entropy_with_logits(logit, impossible, reduction="sum")
    assert torch.allclose(losses[0.5] - losses[0.0], 0.5 * bce, atol=1e-5)


def test_head_layers_are_glorot_initialised(discriminator_dir):
    model = make_model(discriminator_dir)
    for name in ("qa_start", "qa_end_hidden", "qa_end", "answerable_hidden", "answerable"):
        layer = getattr(model, name)
        bound = (6 / sum(layer.weight.shape)) ** 0.5  # tf.layers.dense's glorot_uniform
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.5 * bound, name
        assert torch.count_nonzero(layer.bias) == 0, name


def test_saves_and_loads_with_its_head(discriminator_dir, tmp_path):
    model = make_model(discriminator_dir, qa_joint_prediction=False, qa_beam_size=5)
    model.save_pretrained(tmp_path)
    loaded = ElectraForSpanQuestionAnswering.from_pretrained(tmp_path, config=qa_config(str(tmp_path))).eval()
    assert loaded.config.qa_joint_prediction is False and loaded.config.qa_beam_size == 5
    with torch.no_grad():
        a, b = model(**batch()), loaded(**batch())
    assert torch.equal(a.start_top_index, b.start_top_index) and torch.allclose(a.null_score, b.null_score)


def test_candidates_follow_the_discard_rules():
    # tokens: [CLS] q [SEP] c0..c5 [SEP]; c4 is not max-context here
    token_start_char = np.array([-1, -1, -1, 0, 2, 4, 6, 8, 10, -1])
    max_context = np.array([False] * 3 + [True] * 4 + [False, True, False])
    starts = np.array([0, 1, 3, 7, 4, 12])
    start_scores = np.array([-0.1, -0.2, -0.3, -0.4, -0.5, -0.6])
    ends = np.array([5, 3, 9, 2, 4, 4])  # shared end beam (independent mode)
    end_scores = np.array([-1.0, -2.0, -3.0, -4.0, -5.0, -6.0])
    s, e, ss, es = window_candidates(starts, start_scores, ends, end_scores, token_start_char, max_context,
                                     max_answer_length=2)
    # start 0 ([CLS]), 1 (question), 7 (not max-context), 12 (past the window) are out; end 9 is the final
    # [SEP], end 2 is in the question; 3->5 is 3 tokens (> 2) and 4->3 ends first
    pairs = set(zip(s.tolist(), e.tolist()))
    assert pairs == {(3, 3), (3, 4), (4, 5), (4, 4)}
    assert dict(zip(zip(s.tolist(), e.tolist()), (ss + es).tolist()))[(4, 5)] == pytest.approx(-0.5 - 1.0)


def test_answers_from_beams(tokenizer):
    context = "Paris is big. Lyon is smaller."
    data = rows(("which city?", context, "Paris", 0), ("x?", "", None, None))
    features = Dataset.from_dict(featurize_qa(data[:], list(range(len(data))), tokenizer=tokenizer,
                                              max_seq_length=32, training=False))
    prefix = 2 + len(tokenizer("which city?", add_special_tokens=False)["input_ids"])
    paris, lyon = prefix, prefix + 4  # paris is big . lyon
    K = 3
    outputs = {"start_top_index": np.array([[lyon, paris, 0]]), "start_top_scores": np.array([[-0.2, -0.5, -3.0]]),
               "end_top_index": np.array([[[lyon, lyon + 2, 0], [paris, paris + 2, 0], [0, 0, 0]]]),
               "end_top_scores": np.array([[[-0.1, -2.0, -3.0], [-0.1, -0.3, -3.0], [-1.0, -1.0, -1.0]]]),
               "null_score": np.array([-1.0])}
    assert outputs["end_top_index"].shape == (1, K, K)
    answers = predict_answers(data, features, outputs, version_2_with_negative=True, null_threshold=-2.75)
    assert answers.best_non_null["q0"] == "Lyon"  # -0.2 - 0.1 beats -0.5 - 0.1
    assert [n["text"] for n in answers.nbest["q0"]] == ["Lyon", "Paris", "Paris is big", "Lyon is smaller"]
    assert sum(n["probability"] for n in answers.nbest["q0"]) == pytest.approx(1.0)
    assert answers.null_odds["q0"] == -1.0 and answers.answers["q0"] == ""  # -1 > -2.75: no answer
    assert answers.nbest["q1"][0]["text"] == "empty"  # no window at all: the original's nonce answer
    v1 = predict_answers(data, features, outputs, version_2_with_negative=False)
    assert v1.answers["q0"] == "Lyon" and not v1.null_odds
    lenient = predict_answers(data, features, outputs, version_2_with_negative=True, null_threshold=0.0)
    assert lenient.answers["q0"] == "Lyon"
