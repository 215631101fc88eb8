"""Normalisation of the values customers are compared by (客户查重).

Two records name the same customer when their normalised company name,
phone, mobile or email are equal. Import (``core.services.imports``) uses
these functions for duplicates within a file and against the database; the
409 duplicate check of a create (issue 7) reuses them.

* :func:`company`: NFKC (full-width letters, digits and brackets become
  half-width), no spaces or punctuation, lower case, without a legal-form
  suffix (有限公司, 有限责任公司, 股份有限公司, 集团有限公司, Co., Ltd. …) and
  without a leading province/city name (``上海``, ``广东省``, ``深圳市`` …):
  ``上海 华为技术 有限公司`` and ``（上海）华为技术有限公司`` are both ``华为技术``.
* :func:`phone`: the digits only, without ``+86``/``0086``; ``(021) 6123-4567``
  is ``02161234567``.
* :func:`email`: stripped, lower case.
* :func:`credit_code`: the 18-character unified social credit code
  (统一社会信用代码, GB 32100-2015) in upper case without spaces or dashes;
  :func:`credit_code_error` tells why a code is not one (its check character).

Each returns ``None`` for an empty value, so that empty never matches empty.
"""
import re
import unicodedata

#: legal-form suffixes, longest first (after NFKC and without spaces)
SUFFIXES = sorted({
    "集团股份有限公司", "集团有限责任公司", "集团有限公司", "股份有限公司", "有限责任公司",
    "有限公司", "集团公司", "集团", "分公司", "公司", "总公司", "合伙企业", "有限合伙",
    "工作室", "个体工商户", "厂", "co.,ltd.", "co.,ltd", "co.ltd.", "co.ltd", "coltd",
    "company limited", "companylimited", "limited", "ltd.", "ltd", "inc.", "inc", "corp.", "corp",
    "llc", "gmbh",
}, key=len, reverse=True)

#: provinces, autonomous regions and the largest cities, as they start names
PLACES = sorted({
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
    "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港",
    "澳门", "深圳", "广州", "杭州", "南京", "苏州", "武汉", "成都", "西安", "青岛", "大连",
    "宁波", "厦门", "无锡", "佛山", "东莞", "长沙", "郑州", "济南", "沈阳", "哈尔滨", "长春",
    "合肥", "福州", "昆明", "南宁", "贵阳", "石家庄", "太原", "南昌", "温州", "珠海", "中山",
    "兰州", "西宁", "银川", "乌鲁木齐", "拉萨", "呼和浩特", "海口", "三亚", "常州", "南通",
    "徐州", "扬州", "绍兴", "嘉兴", "金华", "台州", "泉州", "漳州", "烟台", "潍坊", "临沂",
    "淄博", "洛阳", "襄阳", "宜昌", "株洲", "岳阳", "惠州", "江门", "汕头", "湛江", "桂林",
    "柳州", "绵阳", "遵义", "唐山", "保定", "廊坊", "秦皇岛", "鞍山", "吉林市", "大庆",
}, key=len, reverse=True)
#: a place in brackets anywhere in a name: ``(中国)``, ``（北京）``
_BRACKETED_PLACE = re.compile(r"[(\[【]\s*(?:中国|" + "|".join(map(re.escape, PLACES))
                              + r")(?:特别行政区|自治区|省|市)?\s*[)\]】]")
_PLACE_TAIL = ("特别行政区", "自治区", "省", "市")
_DROP = re.compile(r"[\s\u3000·・.,，、:：;；'\"“”‘’()（）\[\]【】<>《》\-_/\\&+]+")
_NOT_DIGIT = re.compile(r"\D+")


def _clean(text):
    text = str(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.strip().lower()


_SUFFIX_RE = re.compile("(?:" + "|".join(re.escape(x.replace(" ", "")) for x in SUFFIXES) + ")+$")
_PLACE_RE = re.compile("^(?:" + "|".join(map(re.escape, PLACES)) + ")(?:"
                       + "|".join(_PLACE_TAIL) + ")?")
_SPACE = re.compile(r"\s+")


def company(name):
    """The normalised company name of ``name`` (``None`` when empty)."""
    if name is None:
        return None
    text = _BRACKETED_PLACE.sub("", _SPACE.sub("", _clean(name)))
    bare = _SUFFIX_RE.sub("", text)
    if bare:  # a name that is only a suffix stays as it is
        text = bare
    text = _DROP.sub("", text)
    for _ in range(2):  # a leading province, then city: 广东省深圳市…, 上海市…
        place = _PLACE_RE.match(text)
        if not place or len(text) - place.end() < 2:
            break
        text = text[place.end():]
    return text or None


def phone(number):
    """The digits of ``number`` without the country code +86/0086; a
    landline keeps its area code with the trunk 0 (``+86 21 6123 4567`` and
    ``(021) 6123-4567`` are both ``02161234567``)."""
    if number is None:
        return None
    text = _clean(number)
    digits = _NOT_DIGIT.sub("", text)
    national = None
    if text.lstrip("(").startswith("+86"):
        national = digits[2:]
    elif digits.startswith("0086"):
        national = digits[4:]
    elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":  # 86 138…
        national = digits[2:]
    if national is not None:
        digits = national
        if digits and not digits.startswith(("0", "1")):  # +86 21… is the landline 021…
            digits = "0" + digits
    return digits or None


def email(address):
    """``address`` stripped and in lower case."""
    if address is None:
        return None
    text = _clean(address)
    return text or None


def exact(value):
    """A business key compared as it is (stripped)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


#: the characters of a unified social credit code (no I, O, Z, S, V) and
#: the weights of its first 17 characters (GB 32100-2015)
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_DROP = re.compile(r"[\s\-_]+")


def credit_code(value):
    """``value`` as a unified social credit code is stored: NFKC, upper
    case, without spaces or dashes (``None`` when empty). Not checked:
    :func:`credit_code_error` does that."""
    if value is None:
        return None
    text = _CREDIT_DROP.sub("", unicodedata.normalize("NFKC", str(value))).upper()
    return text or None


def credit_check_char(first17):
    """The check character of the first 17 characters of a code."""
    total = sum(CREDIT_CHARS.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_error(code):
    """Why the normalised ``code`` is not a unified social credit code, or
    ``None`` when it is one."""
    if len(code) != 18:
        return f"has {len(code)} characters, a unified social credit code has 18"
    bad = [c for c in code if c not in CREDIT_CHARS]
    if bad:
        return f"holds {bad[0]!r}, which no unified social credit code holds"
    if credit_check_char(code[:17]) != code[17]:
        return f"has a wrong check character (expected {credit_check_char(code[:17])!r})"
    return None


#: normaliser name (as models declare their ``import_keys``) -> function
NORMALISERS = {"company": company, "phone": phone, "email": email, "exact": exact,
               "credit_code": credit_code}
