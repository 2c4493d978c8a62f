"""JSON in Rust, against the stdlib: the event a handler receives must be exactly what
`json.loads` gives (raw text when it is not JSON, bytes when it is not UTF-8), and the body sent
for a return value exactly `json.dumps(value, ensure_ascii=False)` (or its exception).

`scfruntime.decode_event` / `scfruntime.encode_result` are the conversions `run` applies; the
differential tests feed them a generated corpus (hypothesis, derandomised so every run checks
the same few thousand cases), the named edge cases follow, and the last tests check the same
over the wire and that serving JSON never imports `json`."""

from __future__ import annotations

import collections
import decimal
import enum
import json
import math
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scfruntime
from conftest import HANDLERS

SETTINGS = settings(
    max_examples=120,
    deadline=None,  # no timed assertions: speed lives in bench/
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def same(a, b) -> bool:
    """Equal *and* of the same types all the way down, dict key order included; -0.0 is not
    0.0, NaN is NaN, 1 is not 1.0 or True. Iterative: values nest deeper than the recursion
    limit here."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if math.isnan(x) or math.isnan(y):
                if not (math.isnan(x) and math.isnan(y)):
                    return False
            elif x != y or math.copysign(1, x) != math.copysign(1, y):
                return False
        elif isinstance(x, dict):
            if list(x) != list(y):
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y))
        elif x != y:
            return False
    return True


def stdlib_event(body: bytes):
    """What the handler received before: json.loads of the text, the text, or the bytes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    try:
        return json.loads(text)
    except Exception:
        return text


def check_decode(body: bytes):
    want = stdlib_event(body)
    got = scfruntime.decode_event(body)
    assert same(got, want), (body[:200], got if len(repr(got)) < 400 else "...")


def outcome(fn, value):
    """The bytes, or the exception's type and message."""
    try:
        return fn(value)
    except Exception as e:
        return (type(e), str(e))


def stdlib_body(value):
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def check_encode(value):
    want = outcome(stdlib_body, value)
    got = outcome(scfruntime.encode_result, value)
    assert got == want, (value, got, want)


# -- generated corpus ---------------------------------------------------------------------------

# Every code point, lone surrogates included (json.dumps escapes them with ensure_ascii=True).
ANY_CHAR = st.characters() | st.characters(categories=["Cs"])
TEXT = st.text(ANY_CHAR, max_size=12) | st.text(st.characters(max_codepoint=0x7F), max_size=12)
INTS = st.integers() | st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(
    [0, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**18 - 1, 10**18, -(10**18), 10**19]
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 0.1, 1e16, 1e15, 1e-4, 1e-5, 1e-7, 5e-324, 1.7976931348623157e308, 123456789.125]
)
SCALARS = st.none() | st.booleans() | INTS | FLOATS | TEXT


def json_values(leaves=SCALARS, keys=TEXT):
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=30,
    )


def render(value, style: int) -> bytes:
    """The JSON text of `value` in one of several spellings (escapes, whitespace), as UTF-8;
    lone surrogates written raw make the body not UTF-8 (surrogatepass), i.e. bytes."""
    if style == 0:
        text = json.dumps(value)
    elif style == 1:
        text = json.dumps(value, ensure_ascii=False)
    elif style == 2:
        text = json.dumps(value, indent=2, separators=(" ,", " :  "))
    else:
        text = json.dumps(value, indent="\t\r\n ", ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def random_value(rng: random.Random, depth: int = 0):
    """One value of a seeded corpus: every float bit pattern class (subnormals, NaN, -0.0),
    ints of every size, strings with control characters, non-ASCII, astral characters and
    (rarely) lone surrogates, lists and dicts nested up to 5 levels."""
    kind = rng.randrange(10) if depth < 5 else rng.randrange(7)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2 ** rng.randrange(1, 200)), 2 ** rng.randrange(1, 200))
    if kind == 2:
        return struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
    if kind == 3:
        return rng.uniform(-1, 1) * 10 ** rng.randint(-20, 20)
    if kind in (4, 5, 6):
        return random_text(rng)
    if kind in (7, 8):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(6))]
    return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(6))}


def random_text(rng: random.Random) -> str:
    pools = [(0x20, 0x7E), (0, 0x20), (0x7F, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)]
    out = []
    for _ in range(rng.randrange(10)):
        lo, hi = rng.choices(pools, weights=[60, 10, 10, 10, 10])[0]
        c = rng.randint(lo, hi)
        if 0xD800 <= c <= 0xDFFF and rng.random() < 0.9:
            c = 0xE000  # keep lone surrogates rare: most values must be encodable
        out.append(chr(c))
    return "".join(out)


CORPUS = [random_value(random.Random(seed)) for seed in range(4000)]


def test_decode_matches_json_loads_on_a_seeded_corpus():
    for n, value in enumerate(CORPUS):
        check_decode(render(value, n % 4))


def test_encode_matches_json_dumps_on_a_seeded_corpus():
    for value in CORPUS:
        check_encode([value])
        if isinstance(value, dict):
            check_encode(value)


@SETTINGS
@given(json_values(), st.integers(0, 3))
def test_decode_matches_json_loads_on_generated_values(value, style):
    check_decode(render(value, style))


# Fragments of JSON text, valid and not: numbers in every spelling, escapes (lone surrogates,
# bad ones), literals and near-literals, raw control characters, structure, whitespace, a BOM.
TOKENS = [
    "0", "-0", "01", "1.", ".5", "1.5", "-1.5e3", "1e5", "1E+05", "1e-5", "1e", "1e+", "-", "--1",
    "12345678901234567890", "-9223372036854775809", "1" * 40, "0.1e400", "1e400", "-1e-400",
    "true", "false", "null", "tru", "nul", "True", "NaN", "nan", "Infinity", "-Infinity", "inf",
    '"', '""', '"a"', '"\\n"', '"\\/"', '"\\u00e9"', '"\\u00E9"', '"\\ud83d\\ude00"', '"\\ud800"',
    '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800\\"', '"\\u12"', '"\\x"', '"\\', '"\t"', '"\x00"',
    '"é"', '"\x7f"', "[", "]", "{", "}", ":", ",", " ", "\t", "\n", "\r", "\x0b", "\f", "\ufeff",
    '{"a": 1}', '{"a": 1, "a": 2}', "[1, 2]", "[1,]", '{"a" 1}', "{1: 2}", "x",
]


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8))
def test_decode_matches_json_loads_on_token_soup(tokens):
    check_decode("".join(tokens).encode("utf-8"))


def test_decode_matches_json_loads_on_a_seeded_token_soup():
    rng = random.Random(11)
    for _ in range(5000):
        check_decode("".join(rng.choices(TOKENS, k=rng.randint(1, 6))).encode("utf-8"))


MUTATION = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.floats(0, 1),
    st.sampled_from(b'"\\{}[],: -+.0123456789eEnulltrufasI\x00\x1f\x80\xff'),
)


@SETTINGS
@given(json_values(), st.integers(0, 3), st.lists(MUTATION, min_size=1, max_size=3))
def test_decode_matches_json_loads_on_mutated_text(value, style, mutations):
    body = bytearray(render(value, style))
    for op, where, byte in mutations:
        at = int(where * len(body))
        if op == "insert":
            body.insert(at, byte)
        elif at < len(body):
            if op == "delete":
                del body[at]
            else:
                body[at] = byte
    check_decode(bytes(body))


class Color(enum.IntEnum):
    RED = 1


class Str(str):
    pass


class Dict(dict):
    pass


class Float(float):
    def __repr__(self):
        return "Float()"


Point = collections.namedtuple("Point", "x y")
ODD_LEAVES = st.sampled_from(
    [
        Color.RED,
        Str("sub"),
        Float(2.5),
        Dict(a=1),
        collections.OrderedDict(b=2),
        Point(1, 2),
        (1, "t"),
        (),
        {1, 2},
        b"bytes",
        object(),
        1j,
    ]
)
# Keys json accepts (coerced) and refuses.
KEYS = TEXT | INTS | FLOATS | st.booleans() | st.none()
ODD_KEYS = KEYS | st.sampled_from([(1, 2), b"k", Color.RED, Str("k"), frozenset()])


def top_level(values):
    """Values whose top level is not bytes (sent raw, not as JSON); a str is JSON like the rest."""
    return values.filter(lambda v: not isinstance(v, (bytes, bytearray)))


@SETTINGS
@given(top_level(json_values(SCALARS, KEYS) | st.lists(json_values(SCALARS, KEYS), max_size=3)))
def test_encode_matches_json_dumps_on_generated_values(value):
    check_encode(value)


@SETTINGS
@given(top_level(json_values(SCALARS | ODD_LEAVES, ODD_KEYS)))
def test_encode_matches_json_dumps_on_odd_types_and_keys(value):
    check_encode(value)


@SETTINGS
@given(top_level(json_values()), st.integers(0, 3))
def test_round_trip_body_to_body_matches_the_stdlib(value, style):
    """What an echo handler sends back for a body: the whole path, both directions."""
    body = render(value, style)
    event = scfruntime.decode_event(body)
    want = stdlib_event(body)
    if isinstance(want, bytes):
        return  # sent raw; covered by test_encode_str_is_json_quoted_bytes_are_sent_raw
    assert outcome(scfruntime.encode_result, event) == outcome(stdlib_body, want)


# -- named edge cases: decoding ------------------------------------------------------------------


def test_decode_key_order_and_duplicate_keys():
    event = scfruntime.decode_event(b'{"b": 1, "a": 2, "b": 3, "c": {"x": 1, "x": [2]}}')
    assert list(event) == ["b", "a", "c"]
    assert event == {"b": 3, "a": 2, "c": {"x": [2]}}
    check_decode(b'{"b": 1, "a": 2, "b": 3}')


@pytest.mark.parametrize(
    "text",
    ["0", "-0", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
     "999999999999999999", "1000000000000000000", "1" * 300, "-" + "9" * 1000],
)
def test_decode_integers_are_exact(text):
    event = scfruntime.decode_event(text.encode())
    assert type(event) is int and event == int(text)
    check_decode(text.encode())


@pytest.mark.parametrize(
    "text",
    ["0.1", "-0.0", "1e400", "-1e400", "1e-400", "5e-324", "2.2250738585072011e-308",
     "1.7976931348623157e308", "9007199254740993.0", "0.30000000000000004", "1E+2", "1.5e-7",
     "3." + "3" * 800, "0." + "0" * 400 + "1e400"],
)
def test_decode_floats_are_correctly_rounded(text):
    event = scfruntime.decode_event(text.encode())
    assert type(event) is float and same(event, float(text))
    check_decode(text.encode())


def test_decode_nan_and_infinity_literals():
    event = scfruntime.decode_event(b'[NaN, Infinity, -Infinity, {"k": NaN}]')
    assert math.isnan(event[0]) and event[1] == math.inf and event[2] == -math.inf
    assert math.isnan(event[3]["k"])
    check_decode(b"[NaN, Infinity, -Infinity]")


@pytest.mark.parametrize(
    "body",
    [rb'"\"\\\/\b\f\n\r\t"', rb'"\u00e9\u00E9\u4f60\ud83d\ude00 \u0000"', '"é 你 😀"'.encode()],
)
def test_decode_string_escapes(body):
    check_decode(body)


@pytest.mark.parametrize(
    "body, want",
    [
        (rb'"\ud800"', "\ud800"),
        (rb'"a\udc00b"', "a\udc00b"),
        (rb'"\ud800\u0041"', "\ud800A"),
        (rb'["\ud83d", "\ude00"]', ["\ud83d", "\ude00"]),
    ],
)
def test_decode_lone_surrogate_escapes_as_json_loads(body, want):
    assert scfruntime.decode_event(body) == want
    check_decode(body)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json {", b"[1, 2", b"[1,]", b'{"a" 1}', b"01", b"1.", b"nul", b"nan", b'"\t"',
     b"\xef\xbb\xbf{}", b"{} {}", b"  ", b"\x0c1"],
)
def test_decode_text_that_is_not_json_is_the_raw_str(body):
    assert scfruntime.decode_event(body) == body.decode()
    check_decode(body)


def test_decode_body_that_is_not_utf8_is_the_bytes():
    for body in [b"\xff\xfe\x00binary", b'{"a": "\xc3"}', b'"\xed\xa0\x80"']:
        assert scfruntime.decode_event(body) == body


def test_decode_integer_over_the_digit_limit_as_json_loads():
    body = b"1" * 5000  # json.loads raises ValueError (int digit limit): the raw text
    check_decode(body)
    check_decode(b"[" + body + b"]")


def test_decode_deep_nesting_as_json_loads_without_overflowing_the_stack():
    # Far deeper than the interpreter's recursion limit: json.loads raises RecursionError, the
    # handler gets the raw text (as before), and nothing overflows.
    deep = b"[" * 200_000 + b"]" * 200_000
    assert scfruntime.decode_event(deep) == deep.decode()
    deep_obj = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    assert scfruntime.decode_event(deep_obj) == deep_obj.decode()
    # Around the Rust decoder's own limit (512): decoded by it, or left to the stdlib.
    for depth in (511, 512, 513, 600):
        body = b"[" * depth + b"1" + b"]" * depth
        event = scfruntime.decode_event(body)
        for _ in range(depth):
            assert type(event) is list and len(event) == 1
            event = event[0]
        assert event == 1
        check_decode(body)


def test_decode_six_megabyte_string_event():
    body = b'{"d": "' + b"x" * 6_000_000 + b'\\n\\u00e9"}'
    event = scfruntime.decode_event(body)
    assert list(event) == ["d"] and event["d"] == "x" * 6_000_000 + "\né"


# -- named edge cases: encoding ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        ([1e16, 1e-07, 0.1, 1.0, -0.0, 1e15, 5e-324], "[1e+16, 1e-07, 0.1, 1.0, -0.0, 1000000000000000.0, 5e-324]"),
        ([math.inf, -math.inf, math.nan], "[Infinity, -Infinity, NaN]"),
        ([10**30, -(10**30), 2**63, -(2**63) - 1, True, False, None], None),
        ({"a": (1, [2, {}]), "b": []}, '{"a": [1, [2, {}]], "b": []}'),
        ({True: 1, False: 2, None: 3, 1.5: 4, 10: 5, math.inf: 6, -0.0: 7, 10**20: 8}, None),
        ({"\x00\x1f\x7f\"\\/\n\r\t\b\f": "é你😀"}, None),
    ],
)
def test_encode_named_cases(value, text):
    body = scfruntime.encode_result(value)
    assert body == stdlib_body(value)
    if text is not None:
        assert body == text.encode()


def float_corpus(n: int, seed: int) -> list[float]:
    """Floats of every kind, weighted towards the hard ones for shortest-repr printing: random
    bit patterns, few-bit mantissas at every exponent (exact short decimals), 16-17 digit
    decimals, near-ties (c + 0.5) * 10^k, and binary fractions around 2^46..2^53, where two
    shortest candidates can be exactly as close (repr takes the even one)."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        kind = len(out) % 5
        if kind == 0:
            x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        elif kind == 1:
            t = rng.randint(0, 52)
            x = float.fromhex(f"{(rng.getrandbits(53 - t) | 1) << t:#x}p{rng.randint(-1126, 971)}")
        elif kind == 2:
            x = float(f"{rng.randint(10**15, 10**17)}e{rng.randint(-330, 300)}")
        elif kind == 3:
            x = float(f"{rng.randint(10**15, 10**16)}5e{rng.randint(-330, 300)}")
        else:
            x = rng.randint(2**40, 2**53) + rng.randint(0, 7) / 8
        out.append(x)
    return out


def test_floats_both_ways_on_a_corpus_of_hard_cases():
    floats = float_corpus(20_000, seed=5)
    assert scfruntime.encode_result(floats) == stdlib_body(floats)
    for chunk in range(0, len(floats), 5_000):
        body = stdlib_body(floats[chunk : chunk + 5_000])
        assert same(scfruntime.decode_event(body), json.loads(body))


def test_encode_every_control_character_and_ascii():
    s = "".join(map(chr, range(0x80))) + "\u2028\u2029\ufeff"
    assert scfruntime.encode_result([s]) == stdlib_body([s])


def test_encode_errors_are_json_dumps_errors():
    circular_list: list = []
    circular_list.append(circular_list)
    circular_dict: dict = {}
    circular_dict["me"] = [circular_dict]
    for value in [circular_list, circular_dict]:
        with pytest.raises(ValueError, match="^Circular reference detected$"):
            scfruntime.encode_result(value)
    for value, message in [
        ({"s": {1, 2}}, "Object of type set is not JSON serializable"),
        ([object()], "Object of type object is not JSON serializable"),
        ({(1, 2): 1}, "keys must be str, int, float, bool or None, not tuple"),
    ]:
        with pytest.raises(TypeError) as info:
            scfruntime.encode_result(value)
        assert str(info.value) == message
        check_encode(value)
    with pytest.raises(UnicodeEncodeError):
        scfruntime.encode_result({"k": "\ud800"})


def test_encode_deep_nesting_as_json_dumps():
    for depth in (511, 512, 513, 600):
        value: list = [1]
        for _ in range(depth - 1):
            value = [value]
        assert scfruntime.encode_result(value) == stdlib_body(value)
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        scfruntime.encode_result(deep)


def test_encode_subclasses_and_other_mappings_as_json_dumps():
    for value in [
        [Color.RED, Str("s\n"), Float(0.5), Dict(a=1), collections.OrderedDict(b=2), Point(1, 2)],
        {Color.RED: 1, Str("k"): 2},
        Dict({"x": [1]}),
    ]:
        assert scfruntime.encode_result(value) == stdlib_body(value)


def test_encode_str_is_json_quoted_bytes_are_sent_raw():
    # A str is json.dumps'd like any value (SCF's built-in runtime: RetMsg "\"hello\"").
    assert scfruntime.encode_result("é \"raw\"") == '"é \\"raw\\""'.encode()
    assert scfruntime.encode_result("é \"raw\"") == stdlib_body("é \"raw\"")
    assert scfruntime.encode_result("") == b'""'
    assert scfruntime.encode_result(None) == b"null"
    # bytes and bytearray: as they are (a deliberate difference, docs/python.md).
    assert scfruntime.encode_result(b"\x00\xff") == b"\x00\xff"
    assert scfruntime.encode_result(bytearray(b"ab")) == b"ab"


def test_encode_top_level_decimal_is_its_str_and_nested_decimal_fails():
    # The built-in runtime turns a top-level Decimal into str before json.dumps.
    assert scfruntime.encode_result(decimal.Decimal("1.50")) == b'"1.50"'
    assert scfruntime.encode_result(decimal.Decimal("-1E+3")) == b'"-1E+3"'
    for value in [[decimal.Decimal("1.50")], {"d": decimal.Decimal("2")}]:
        with pytest.raises(TypeError, match="^Object of type Decimal is not JSON serializable$"):
            scfruntime.encode_result(value)
        check_encode(value)


# -- over the wire, and without the json module ---------------------------------------------------


def test_echo_corpus_over_the_wire(fake_api, monkeypatch):
    """A few hundred generated events through `run` and the runtime API: each response body is
    the stdlib's json.dumps(json.loads(event), ensure_ascii=False)."""
    for k, v in fake_api.env().items():
        monkeypatch.setenv(k, v)
    rng = random.Random(7)

    def scalar():
        return rng.choice(
            [
                None, True, False, rng.randint(-(2**80), 2**80), rng.uniform(-1e9, 1e9),
                rng.random() * 10 ** rng.randint(-30, 30), "".join(chr(rng.randint(0, 0x2FF)) for _ in range(5)),
                "😀\n\"x\"", math.inf,
            ]
        )

    def value(depth=0):
        kind = rng.randint(0, 3) if depth < 4 else 0
        if kind == 0:
            return scalar()
        if kind == 1:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {str(scalar()): value(depth + 1) for _ in range(rng.randint(0, 4))}

    bodies = [json.dumps({"v": value()}, ensure_ascii=rng.random() < 0.5).encode() for _ in range(300)]
    for body in bodies:
        fake_api.push(body)
    scfruntime.run(lambda event, context: event, max_invocations=len(bodies))
    for body in bodies:
        post = fake_api.next_post()
        assert post.path == "/runtime/invocation/response"
        assert post.body == stdlib_body(json.loads(body))


def test_serving_json_events_never_imports_json(invoke, package):
    """The handler's module imports nothing; the runtime decodes events, encodes results and
    builds the context without the stdlib json module (both routes)."""
    assert "import json" not in (HANDLERS / "nojson.py").read_text()
    events = [
        '{"a": 1, "b": [true, null, 2.5, -0.0, 1e300, 5e-324], "u": "你好 \\u00e9\\n", "big": 123456789012345678901234567890}',
        "[1, {}, []]",
        '{"nested": {"k": [{"x": "y"}]}}',
    ]
    out = invoke(package, "nojson.modules", *events, args=("--env", "GREETING=héllo"))
    assert out.returncode == 0, out.stderr
    for ev, res in zip(events, out.results):
        assert res["InvokeResult"] == 0, res
        ret = json.loads(res["RetMsg"])
        assert ret["json_imported"] is False
        assert res["RetMsg"] == json.dumps(
            {"json_imported": False, "event": json.loads(ev), "environment": ret["environment"]},
            ensure_ascii=False,
        )
        # The context's environment string: compact JSON of SCF_NAMESPACE and the user
        # variables, ASCII-escaped.
        assert ret["environment"] == '{"SCF_NAMESPACE":"default","GREETING":"h\\u00e9llo"}'
