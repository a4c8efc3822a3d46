import pytest

from pmemctl.units import (
    GiB,
    MiB,
    format_cpulist,
    format_size,
    parse_block_list,
    parse_bool01,
    parse_cpulist,
    parse_hex,
    parse_size,
    parse_zones,
    round_to_blocks,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("4G", 4 * GiB),
        ("4g", 4 * GiB),
        ("512M", 512 * MiB),
        ("512MiB", 512 * MiB),
        ("512MB", 512 * 1000**2),  # decimal, as chmem reads it (issue 15, item 20)
        ("1GB", 1000**3),
        ("1GiB", GiB),
        ("1gb", 1000**3),
        ("4096B", 4096),
        ("128m", 128 * MiB),
        ("0x8000000", 128 * MiB),
        ("1.5G", 1536 * MiB),
        ("4096", 4096),
        ("1K", 1024),
        ("2T", 2 * 1024 * GiB),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "G", "4X", "-1G", "1.0000001K", "4 G B", "four"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(
    "n,text",
    [(0, "0B"), (512, "512B"), (128 * MiB, "128M"), (3 * GiB, "3G"), (int(2.9 * GiB), "2.9G"), (None, "-")],
)
def test_format_size(n, text):
    assert format_size(n) == text


def test_parse_hex_with_and_without_prefix():
    assert parse_hex("8000000") == 128 * MiB  # block_size_bytes has no 0x
    assert parse_hex("0x104000000\n") == 0x104000000
    with pytest.raises(ValueError):
        parse_hex("")
    with pytest.raises(ValueError):
        parse_hex("zz")


@pytest.mark.parametrize(
    "text,expected",
    [("", ()), ("\n", ()), ("0", (0,)), ("0-3", (0, 1, 2, 3)), ("0-1,4,6-7", (0, 1, 4, 6, 7)), ("0-6:2", (0, 2, 4, 6))],
)
def test_parse_cpulist(text, expected):
    assert parse_cpulist(text) == expected


@pytest.mark.parametrize("text", ["3-1", "a", "1,,2", "1-"])
def test_parse_cpulist_rejects(text):
    with pytest.raises(ValueError):
        parse_cpulist(text)


def test_format_cpulist_roundtrip():
    assert format_cpulist([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11"
    assert format_cpulist([]) == ""
    assert format_cpulist([5]) == "5"
    for text in ("0-3,8", "1", "2-3,5-9,12"):
        assert format_cpulist(parse_cpulist(text)) == text


def test_parse_block_list():
    assert parse_block_list("33-40,45") == tuple(range(33, 41)) + (45,)
    for bad in ("", "x", "40-33"):
        with pytest.raises(ValueError):
            parse_block_list(bad)


def test_parse_zones():
    assert parse_zones("Movable") == ("Movable",)
    assert parse_zones("Normal Movable\n") == ("Normal", "Movable")
    assert parse_zones("none") == ()
    with pytest.raises(ValueError):
        parse_zones("Bogus")


def test_parse_bool01():
    assert parse_bool01("1") is True
    assert parse_bool01("0\n") is False
    with pytest.raises(ValueError):
        parse_bool01("2")


def test_round_to_blocks():
    assert round_to_blocks(300 * MiB, 128 * MiB) == (2, 44 * MiB)


def test_format_sizes_never_shows_two_different_sizes_alike():
    """Issue 15 item 20: "3.9G does not fit: region0 has 3.9G free" says
    nothing; sizes shown together print exactly when they would read the same."""
    from pmemctl.units import exact_size, format_sizes

    assert format_sizes(4 * GiB - 120 * MiB, 4 * GiB - 122 * MiB) == ("3976M", "3974M")
    assert format_sizes(4 * GiB, 4 * GiB - 128 * MiB) == ("4G", "3.9G")  # different anyway: no change
    assert format_sizes(3 * GiB, 3 * GiB) == ("3G", "3G")
    assert format_sizes(GiB + 1, GiB) == ("1073741825", "1G")
    assert exact_size(102384 * MiB) == "102384M" and exact_size(12345) == "12345"
