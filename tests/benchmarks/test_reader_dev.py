"""The inference-switch ablation on the reader's dev set runs and reports each variant."""

from __future__ import annotations

from benchmarks import reader_dev


def test_each_variant_is_a_row_with_scores_in_range(shared_data, capsys):
    assert reader_dev.main(["--dev-size", "8", "--negatives", "6",
                            "--variants", "whole units off,whole units on"]) == 0  # fmt: skip
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| whole")]
    assert [r.split(" | ")[0] for r in rows] == ["| whole units off", "| whole units on"]
    for row in rows:
        em, f1, refused, kept_out = (float(c.strip(" %")) for c in row.split(" | ")[1:5])
        assert 0 <= em <= f1 <= 100 and 0 <= refused <= 100 and 0 <= kept_out <= 100
