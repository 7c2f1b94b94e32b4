"""The one reader of prompt and idea files."""

import pytest

from artdirector.errors import BadInput
from artdirector.readers import read_rows, read_texts


def test_tables_by_extension_with_errors_per_row(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"prompt": "x, y"}\nnot json\n{"other": 1}\n')
    assert list(read_rows(tmp_path / "a.jsonl")) == [
        (1, "x, y", None), (2, None, "not a JSON object"), (3, None, "no 'prompt' text")]
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt": ["a, b", None], "part": [1, 2]}), tmp_path / "d.parquet")
    assert [p for _, p, _ in read_rows(tmp_path / "d.parquet")] == ["a, b", None]
    (tmp_path / "c.csv").write_text("text\nhello\n")
    with pytest.raises(BadInput, match="no 'prompt' column"):
        list(read_rows(tmp_path / "c.csv"))
    assert read_texts(tmp_path / "c.csv", column="text") == ["hello"]
    (tmp_path / "t.tsv").write_text("source\tprompt\nme\ta cat, oil\n")
    assert read_texts(tmp_path / "t.tsv") == ["a cat, oil"]


def test_any_other_file_is_one_idea_per_line(tmp_path):
    f = tmp_path / "ideas.txt"
    f.write_bytes(b"a lighthouse\r\n\xff\xfe broken\n\na fox\n")
    assert list(read_rows(f)) == [(1, "a lighthouse", None), (2, None, "not valid UTF-8 (byte 0)"), (3, "", None),
                                  (4, "a fox", None)]


def test_a_gzip_file_reads_as_the_file_it_compresses(tmp_path):
    """The 1.07M Discord prompts ship as ``.tsv.gz``: read as a TSV, not as lines of compressed bytes."""
    import gzip

    (tmp_path / "p.tsv.gz").write_bytes(gzip.compress(b"prompt\tn\na cat, oil painting\t1\n"))
    assert read_texts(tmp_path / "p.tsv.gz") == ["a cat, oil painting"]
    (tmp_path / "ideas.txt.gz").write_bytes(gzip.compress(b"a fox\na owl\n"))
    assert read_texts(tmp_path / "ideas.txt.gz") == ["a fox", "a owl"]
    (tmp_path / "d.parquet.gz").write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(BadInput, match="Parquet compresses itself"):
        list(read_rows(tmp_path / "d.parquet.gz"))
    (tmp_path / "bad.tsv.gz").write_bytes(b"not gzip")
    with pytest.raises(BadInput, match="not a readable gzip file"):
        list(read_rows(tmp_path / "bad.tsv.gz"))
