"""proxy.html.rewrite_cache: a repeat page is the earlier result, and only a repeat page is."""

from __future__ import annotations

from collections.abc import Mapping

from proxy.html.ops.registry import Hide, Op, SetAttr, SetText
from proxy.html.rewrite import RewriteResult, rewrite
from proxy.html.rewrite_cache import RewriteCache, put_back, rewrite_key

PAGE = b"<!doctype html><html><head><title>t</title></head><body><h1>Hi</h1><p>x</p></body></html>"
OPS = (SetText("h1", "Hello"), SetAttr("p", "data-v", "b"), Hide("p"))


def _cached(
    cache: RewriteCache,
    document: bytes,
    ops: tuple[Op, ...] = OPS,
    mark: Mapping[str, Mapping[str, str]] | None = None,
) -> RewriteResult:
    """What the rewrite stage does: the cached result, or rewrite and keep it."""
    key = rewrite_key(document, "utf-8", ops, mark, None)
    found = cache.get(key)
    if found is None:
        found = rewrite(document, "utf-8", ops, mark=mark)
        cache.put(key, found)
    return found


def test_a_repeat_page_is_the_earlier_result_and_equals_a_fresh_rewrite() -> None:
    cache = RewriteCache(1 << 20)
    first = _cached(cache, PAGE)
    again = _cached(cache, bytes(bytearray(PAGE)))  # equal bytes, another object
    assert again is first
    assert again == rewrite(PAGE, "utf-8", OPS)
    assert b"<h1>Hello</h1>" in again.body and len(cache) == 1


def test_another_page_ops_or_marks_are_another_entry() -> None:
    cache = RewriteCache(1 << 20)
    first = _cached(cache, PAGE)
    other = _cached(cache, PAGE.replace(b"Hi", b"Yo"))
    fewer = _cached(cache, PAGE, ops=OPS[:1])
    marked = _cached(cache, PAGE, mark={"h1": {"data-vernier-slot": "hero"}})
    assert len({id(first), id(other), id(fewer), id(marked)}) == 4 and len(cache) == 4
    assert b'data-vernier-slot="hero"' in marked.body
    assert b'data-v="b"' not in fewer.body


def test_only_the_context_values_the_operations_write_are_part_of_the_key() -> None:
    ops = (SetText("h1", "Hello {{ city }}"),)
    paris = rewrite_key(PAGE, "utf-8", ops, None, {"city": "Paris", "scroll": "0.1"})
    assert paris == rewrite_key(PAGE, "utf-8", ops, None, {"city": "Paris", "scroll": "0.9"})
    assert paris != rewrite_key(PAGE, "utf-8", ops, None, {"city": "Lyon", "scroll": "0.1"})
    # no values: the placeholder is written as it is, unlike an empty value
    assert rewrite_key(PAGE, "utf-8", ops, None, None) != rewrite_key(PAGE, "utf-8", ops, None, {})
    plain = rewrite_key(PAGE, "utf-8", OPS, None, {"city": "Paris"})
    assert plain == rewrite_key(PAGE, "utf-8", OPS, None, {"city": "Lyon"})


def test_the_least_recently_used_go_first_and_big_pages_are_not_kept() -> None:
    pages = [PAGE.replace(b"Hi", f"Hi {n}".encode()) for n in range(5)]
    size = len(pages[0]) + len(rewrite(pages[0], "utf-8", OPS).body)
    cache = RewriteCache(4 * size + 10)  # room for four
    first, second = _cached(cache, pages[0]), _cached(cache, pages[1])
    _cached(cache, pages[2]), _cached(cache, pages[3])
    assert _cached(cache, pages[0]) is first  # now the most recent
    _cached(cache, pages[4])  # evicts pages[1], the least recently used
    assert len(cache) == 4 and cache.size_bytes <= cache.max_bytes
    assert _cached(cache, pages[0]) is first
    assert _cached(cache, pages[1]) is not second
    small = RewriteCache(4 * size - 1)  # a page over a quarter of the cache is never kept
    _cached(small, pages[0])
    assert len(small) == 0 and small.size_bytes == 0


def test_an_unchanged_page_costs_its_bytes_once() -> None:
    cache = RewriteCache(1 << 20)
    result = _cached(cache, PAGE, ops=(SetText("h2", "none here"),))
    assert result.body is PAGE and cache.size_bytes == len(PAGE)


def test_stand_in_ids_are_put_back_and_a_page_holding_one_twice_is_refused() -> None:
    cache = RewriteCache(1 << 20)
    first, second = cache.stand_ins(2)
    assert cache.stand_ins(2) == [first, second] and len(first) == 16 and first != second
    page = rewrite(PAGE, "utf-8", OPS, mark={"h1": {"data-vernier-decision": first}}).body
    back = put_back(page, "utf-8", [(first, "real-id-0123456"), (second, "unused")])
    assert (
        back
        == rewrite(
            PAGE, "utf-8", OPS, mark={"h1": {"data-vernier-decision": "real-id-0123456"}}
        ).body
    )
    assert put_back(PAGE, "utf-8", [(first, "x")]) is PAGE
    assert put_back(page + first.encode(), "utf-8", [(first, "x")]) is None
