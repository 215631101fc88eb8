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
}, key=len, reverse=True)
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
    text = _SPACE.sub("", _clean(name))
    bare = _SUFFIX_RE.sub("", text)
    if bare:  # a name that is only a suffix stays as it is
        text = bare
    text = _DROP.sub("", text)
    place = _PLACE_RE.match(text)
    if place and len(text) - place.end() >= 2:  # one leading place name, e.g. 上海市, 广东省
        text = text[place.end():]
    return text or None


def phone(number):
    """The digits of ``number`` without the country code +86/0086."""
    if number is None:
        return None
    text = _clean(number)
    digits = _NOT_DIGIT.sub("", text)
    if text.startswith(("+86", "(+86")):
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":  # 86 138…
        digits = digits[2:]
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


#: normaliser name (as models declare their ``import_keys``) -> function
NORMALISERS = {"company": company, "phone": phone, "email": email, "exact": exact}
