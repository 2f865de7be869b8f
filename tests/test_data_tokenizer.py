"""Tokenizers rebuilt from a model's own files: a GGUF's byte-level BPE, a tokenizer.json."""

import pytest

from suite.data.tiny import write_tiny_bert, write_tiny_gguf
from suite.data.tokenizer import tokenizer_for


@pytest.fixture(scope="module")
def gguf_tok(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tiny.gguf"
    write_tiny_gguf(path)
    return tokenizer_for(path)


def test_byte_level_bpe_applies_the_files_merges_and_round_trips(gguf_tok):
    ids = gguf_tok.encode("the other")
    assert [gguf_tok.inner.id_to_token(i) for i in ids] == ["the", "Ġ", "o", "the", "r"]
    text = "To be, or not to be: that is the question. ¿Qué? 12 ✓"
    assert gguf_tok.decode(gguf_tok.encode(text)) == text


def test_digits_are_split_one_by_one_and_control_tokens_stay_whole(gguf_tok):
    ids = gguf_tok.encode("1234<|im_start|>")
    assert [gguf_tok.inner.id_to_token(i) for i in ids] == ["1", "2", "3", "4", "<|im_start|>"]
    assert gguf_tok.token_to_id("<|im_start|>") == 1


def test_a_tokenizer_json_folder_adds_its_special_tokens_on_request(tmp_path):
    tok = tokenizer_for(write_tiny_bert(tmp_path / "bert"))
    assert tok.encode("The king") == [5, 6]
    assert tok.encode("The king", special=True) == [2, 5, 6, 3]
    assert tok.encode("the zebra") == [5, 1]  # unknown word -> [UNK]
