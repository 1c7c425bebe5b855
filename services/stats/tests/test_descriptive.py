"""Table 1 against R's documented outputs on R's example data, and against scipy for the tests it picks."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.descriptive import TableOne, TableOneRow, table_one


def _table(columns: dict[str, list]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame


# R datasets::PlantGrowth.
CONTROL = [4.17, 5.58, 5.18, 6.11, 4.50, 4.61, 5.17, 4.53, 5.33, 5.14]
TREATMENT_1 = [4.81, 4.17, 4.41, 3.59, 5.87, 3.83, 6.03, 4.89, 4.32, 4.69]
TREATMENT_2 = [6.31, 5.12, 5.54, 5.50, 5.37, 5.29, 4.92, 6.15, 5.80, 5.26]
PLANTS = _table(
    {"weight": [*CONTROL, *TREATMENT_1, *TREATMENT_2], "group": ["ctrl"] * 10 + ["trt1"] * 10 + ["trt2"] * 10}
)

# R datasets::ToothGrowth: len by supp (VC rows 1-30, OJ rows 31-60) and dose.
VITAMIN_C = [4.2, 11.5, 7.3, 5.8, 6.4, 10, 11.2, 11.2, 5.2, 7, 16.5, 16.5, 15.2, 17.3, 22.5, 17.3, 13.6, 14.5]
VITAMIN_C += [18.8, 15.5, 23.6, 18.5, 33.9, 25.5, 26.4, 32.5, 26.7, 21.5, 23.3, 29.5]
ORANGE_JUICE = [15.2, 21.5, 17.6, 9.7, 14.5, 10, 8.2, 9.4, 16.5, 9.7, 19.7, 23.3, 23.6, 26.4, 20, 25.2, 25.8, 21.2]
ORANGE_JUICE += [14.5, 27.3, 25.5, 26.4, 22.4, 24.5, 24.8, 30.9, 26.4, 27.3, 29.4, 23]
TOOTH = _table(
    {
        "len": [*VITAMIN_C, *ORANGE_JUICE],
        "supp": ["VC"] * 30 + ["OJ"] * 30,
        "dose": ([0.5] * 10 + [1.0] * 10 + [2.0] * 10) * 2,
    }
)


def _row(table: TableOne, variable: str, level: str = "") -> TableOneRow:
    return next(row for row in table.rows if row.variable == variable and row.level == level)


def test_normal_groups_show_mean_sd_and_the_anova_p_value_of_r() -> None:
    # Shapiro-Wilk keeps normality in each PlantGrowth group (p = 0.75, 0.45, 0.56), so: mean (SD) and one-way
    # ANOVA. R: summary(aov(weight ~ group, data = PlantGrowth)) -> F = 4.846, Pr(>F) = 0.0159;
    # tapply(weight, group, mean) -> ctrl 5.032, trt1 4.661, trt2 5.526.
    result = table_one(PLANTS, ["weight"], group="group")
    assert result.columns == ("Overall", "ctrl", "trt1", "trt2") and result.column_n == (30, 10, 10, 10)
    row = _row(result, "weight")
    assert row.statistic == "mean (SD)" and row.test == "one-way ANOVA"
    assert row.p_value == pytest.approx(0.0159, abs=5e-5)
    means = [cell.values[0] for cell in row.cells[1:]]
    assert means == pytest.approx([5.032, 4.661, 5.526], abs=5e-4)
    ctrl = PLANTS.loc[PLANTS["group"] == "ctrl", "weight"]
    assert row.cells[1].values == pytest.approx((ctrl.mean(), ctrl.std(ddof=1)))
    assert row.cells[1].text == f"{ctrl.mean():.2f} ({ctrl.std(ddof=1):.2f})"


def test_two_normal_groups_use_students_t_test() -> None:
    frame = PLANTS[PLANTS["group"] != "trt2"]
    row = _row(table_one(frame, ["weight"], group="group"), "weight")
    a, b = (frame.loc[frame["group"] == g, "weight"] for g in ("ctrl", "trt1"))
    assert row.test == "Student's t-test"
    assert row.p_value == pytest.approx(stats.ttest_ind(a, b).pvalue, rel=1e-12)


def test_a_non_normal_group_gives_median_quartiles_and_mann_whitney_as_r() -> None:
    # Shapiro-Wilk rejects normality for OJ (p = 0.024), so median [Q1, Q3] and Mann-Whitney.
    # R: wilcox.test(len ~ supp, data = ToothGrowth) -> W = 575.5, p-value = 0.06449;
    # summary(ToothGrowth$len) -> 1st Qu. 13.07, Median 19.25, 3rd Qu. 25.27.
    result = table_one(TOOTH, ["len"], group="supp")
    assert result.columns == ("Overall", "OJ", "VC")
    row = _row(result, "len")
    assert (row.statistic, row.test) == ("median [Q1, Q3]", "Mann-Whitney U test")
    assert row.p_value == pytest.approx(0.06449, abs=5e-6)
    median, q1, q3 = row.cells[0].values
    assert (median, q1, q3) == (pytest.approx(19.25), pytest.approx(13.075), pytest.approx(25.275))
    assert row.cells[0].text == "19.25 [13.07, 25.27]"  # 13.075 and 25.275 are just below in binary


def test_more_than_two_non_normal_groups_use_kruskal_wallis() -> None:
    rng = np.random.default_rng(3)
    frame = _table({"size": rng.exponential(1.0, 90), "site": ["a", "b", "c"] * 30})
    row = _row(table_one(frame, ["size"], group="site"), "size")
    samples = [frame.loc[frame["site"] == s, "size"] for s in "abc"]
    assert row.statistic == "median [Q1, Q3]" and row.test == "Kruskal-Wallis test"
    assert row.p_value == pytest.approx(stats.kruskal(*samples).pvalue, rel=1e-12)


def test_categories_show_counts_and_percentages_with_chi_square() -> None:
    # Dose as a category by supplement: 10 of 30 at each dose in each group, so X-squared = 0 and p = 1.
    result = table_one(TOOTH, ["dose"], group="supp", as_categories=["dose"])
    header = _row(result, "dose")
    assert header.test == "Pearson's chi-squared test" and header.p_value == pytest.approx(1.0)
    assert [cell.text for cell in _row(result, "dose", "0.5").cells] == ["20 (33.3%)", "10 (33.3%)", "10 (33.3%)"]
    assert [row.level for row in result.rows if row.variable == "dose"] == ["", "0.5", "1", "2"]


def test_a_2x2_table_uses_yates_chi_square_and_fisher_when_an_expected_count_is_small() -> None:
    large = _table({"smoker": ["yes"] * 30 + ["no"] * 50, "arm": ["a"] * 20 + ["b"] * 10 + ["a"] * 15 + ["b"] * 35})
    header = _row(table_one(large, ["smoker"], group="arm"), "smoker")
    counts = pd.crosstab(large["smoker"], large["arm"]).to_numpy()
    assert header.test == "Pearson's chi-squared test with Yates' continuity correction"
    assert header.p_value == pytest.approx(stats.chi2_contingency(counts, correction=True).pvalue, rel=1e-12)
    small = _table({"smoker": ["yes"] * 5 + ["no"] * 15, "arm": ["a"] * 4 + ["b"] + ["a"] * 5 + ["b"] * 10})
    header = _row(table_one(small, ["smoker"], group="arm"), "smoker")
    counts = pd.crosstab(small["smoker"], small["arm"]).to_numpy()
    assert header.test == "Fisher's exact test"
    assert header.p_value == pytest.approx(stats.fisher_exact(counts).pvalue, rel=1e-12)


def test_missing_values_are_counted_and_rows_without_a_group_left_out() -> None:
    frame = PLANTS.copy()
    frame.loc[[2, 12], "weight"] = np.nan
    frame.loc[25, "group"] = np.nan
    result = table_one(frame, ["weight"], group="group")
    assert result.rows_dropped == (25,) and len(result.rows_used) == 29
    missing = _row(result, "weight", "missing")
    assert [cell.values[0] for cell in missing.cells] == [2, 1, 1, 0]
    assert missing.cells[1].text == "1 (10.0%)"
    assert [cell.n for cell in _row(result, "weight").cells] == [27, 9, 9, 9]
    assert _row(result, "n").cells[0].values == (29.0,)


def test_without_a_group_there_is_only_the_overall_column_and_no_p_value() -> None:
    result = table_one(TOOTH, ["len", "supp"])
    assert result.columns == ("Overall",)
    assert all(row.p_value is None and row.test == "" for row in result.rows)
    assert _row(result, "len").statistic == "mean (SD)"  # ToothGrowth$len is normal overall (p = 0.109)


def test_an_untestable_variable_keeps_its_row_and_says_why() -> None:
    frame = _table({"value": [1.0, 2.0, 3.0, 4.0, np.nan], "arm": ["a", "a", "a", "a", "b"]})
    row = _row(table_one(frame, ["value"], group="arm"), "value")
    assert row.p_value is None and "not tested" in row.note and "group 'b'" in row.note


def test_csv_export_has_a_line_per_row_and_a_column_per_group() -> None:
    result = table_one(PLANTS, ["weight"], group="group")
    lines = result.to_csv().splitlines()
    assert lines[0] == "variable,level,statistic,Overall (n=30),ctrl (n=10),trt1 (n=10),trt2 (n=10),p_value,test,note"
    assert len(lines) == 1 + len(result.rows)
    assert lines[2].startswith("weight,,mean (SD),5.07 (0.70),5.03 (0.58),4.66 (0.79),5.53 (0.44),0.0159")
    assert math.isnan(result.to_frame()["p_value"].iloc[0])  # the "n" row has no test


@pytest.mark.parametrize(
    ("arguments", "reason", "column"),
    [
        ({"variables": ["height"], "group": "group"}, "UNKNOWN_COLUMN", "height"),
        ({"variables": ["weight"], "group": "constant"}, "WRONG_GROUP_COUNT", "constant"),
        ({"variables": ["weight"], "group": "group", "missing": "fail"}, "MISSING_VALUES", "weight"),
        ({"variables": ["when"], "group": "group"}, "UNSUPPORTED_COLUMN_TYPE", "when"),
        ({"variables": ["empty"], "group": "group"}, "NO_VALUES", "empty"),
        ({"variables": ["group"], "group": "group"}, "SAME_COLUMN", "group"),
    ],
)
def test_bad_inputs_name_the_column(arguments: dict, reason: str, column: str) -> None:
    frame = PLANTS.assign(constant="x", when=pd.Timestamp("2024-01-01"), empty=np.nan)
    frame.loc[3, "weight"] = np.nan
    with pytest.raises(InvalidArgument) as error:
        table_one(frame, **arguments)
    assert (error.value.reason, error.value.details["column"]) == (reason, column)
    assert f"'{column}'" in error.value.message


def test_imputation_is_refused_for_a_table_one() -> None:
    with pytest.raises(InvalidArgument) as error:
        table_one(PLANTS, ["weight"], group="group", missing="mean")
    assert error.value.reason == "INVALID_MISSING"
