"""Chinese: "明天上午9点提醒我开会", "每周一早上9点提醒我开周会".

Chinese is written without spaces, so the canonical words are inserted with spaces
around them ("每天早上8点" → " every day  morning 8点"), and the reminder text is
joined without spaces. "提醒我" ("remind me") usually separates time and text.
"""

from __future__ import annotations

import re

from tasks.reminders.when.languages import Language
from tasks.reminders.when.rewrite import rules

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_NUMBER = r"[零〇一二两三四五六七八九十百]+"
_WEEKDAYS = {"一": "monday", "二": "tuesday", "三": "wednesday", "四": "thursday", "五": "friday",
             "六": "saturday", "日": "sunday", "天": "sunday", "1": "monday", "2": "tuesday",
             "3": "wednesday", "4": "thursday", "5": "friday", "6": "saturday", "7": "sunday"}  # fmt: skip
_WEEK = r"(?:周|星期|礼拜)"
_UNITS = {"分钟": "minutes", "分": "minutes", "min": "minutes", "小时": "hours", "钟头": "hours",
          "h": "hours",
          "天": "days", "日": "days", "周": "weeks", "星期": "weeks", "礼拜": "weeks",
          "月": "months", "年": "years"}  # fmt: skip
_UNIT = (
    r"(?:分钟|min|小时|钟头|h(?=后|以后|之后)|天|(?:周|星期|礼拜)(?![一二三四五六日天1-7])|月|年)"
)


def cn_number(text: str) -> float:
    """``二十五`` → 25, ``一百`` → 100, ``两`` → 2, ``十五`` → 15 (digits pass through)."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text) if "." in text else int(text)
    total, current = 0, 0
    for char in text:
        if char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[char]
    return total + current


def _amount(text: str) -> str:
    """``一个半`` → ``1.5``, ``半`` → ``0.5``, ``三`` → ``3``."""
    text = text.replace("个", "")
    half = text.endswith("半")
    number = text.removesuffix("半")
    value = (cn_number(number) if number else 0) + (0.5 if half else 0)
    return f"{value:g}"


def _relative(match: re.Match[str]) -> str:
    """``1小时20分钟后`` → `` in 1 hours 20 minutes ``; ``过半小时`` → `` in 0.5 hours ``."""
    unit = _UNIT.replace("h(?=后|以后|之后)", "h")
    pieces = re.findall(rf"((?:\d+(?:\.\d+)?|{_CN_NUMBER})?个?半?)\s*(个?{unit})", match["span"])
    words = []
    for amount, unit in pieces:
        unit = unit.removeprefix("个")
        words.append(f"{_amount(amount or '1')} {_UNITS[unit]}")
    return " in " + " ".join(words) + " "


def _to_hour(match: re.Match[str]) -> str:
    """``差五分三点`` → ``2点55分`` (five to three), ``差一刻8点`` → ``7点45分``."""
    hour = int(cn_number(match["h"]))
    minutes = 15 if match["q"] else int(cn_number(match["m"]))
    return f"{hour - 1}点{60 - minutes}分"


def _quarters(match: re.Match[str]) -> str:
    """``三点三刻`` → ``3点45分``."""
    return f"{match['h']}点{15 * int(cn_number(match['q']))}分"


def _small_hours(match: re.Match[str]) -> str:
    """``凌晨3点半`` → ``03:30``: the small hours, which Duckling reads apart from the clock."""
    hour = int(cn_number(match["h"])) % 12
    minute = 30 if match["half"] else int(cn_number(match["m"])) if match["m"] else 0
    return f"{hour:02d}:{minute:02d}"


def _weekday(match: re.Match[str]) -> str:
    return f" {_WEEKDAYS[match['d']]} "


_SPAN = rf"(?:(?:\d+(?:\.\d+)?|{_CN_NUMBER})?个?半?\s*个?{_UNIT}\s*)+"

_CN_WEEKDAY_DIGITS = {"1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "日"}

_SIMPLIFIED = {"後": "后", "時": "时", "點": "点", "鐘": "钟", "週": "周", "個": "个", "號": "号",
               "禮": "礼", "頭": "头", "嗎": "吗", "兩": "两", "幾": "几"}  # fmt: skip


NORMALIZE = rules(
    (r"名天|明添", "明天"),
    # traditional characters of the time words (the grammar is written in simplified ones)
    (r"[後時點鐘週個號禮頭嗎兩幾]", lambda m: _SIMPLIFIED[m[0]]),
    # homophone typos of the unit words ("分中" for 分钟, "小是" for 小时, "星其" for 星期)
    (r"分中", "分钟"), (r"小是|小事(?=[以之]?后)", "小时"), (r"星其|星七", "星期"),
    (r"个钟头?(?=[以之]?后)", "个小时"),  # "1个钟后": an hour, colloquially
    (r"(?P<n>\d+|[一二两三四五六七八九十]+)分(?![钟之])(?=[以之]?后)", r"\g<n>分钟"),
    (r"(?<![一二两三四五六七八九十\d])(?:一|1)刻钟", "15分钟"),
    (r"(?<![一二两三四五六七八九十\d])(?:三|3)刻钟", "45分钟"),
    (rf"(?P<w>{_WEEK})(?P<d>[1-7])", lambda m: m["w"] + _CN_WEEKDAY_DIGITS[m["d"]]),
    (r"(?P<h>\d{1,2}|[一二两三四五六七八九十]+)时(?!间)", r"\g<h>点"),
    (r"点钟", "点"),
    (r"上午", "早上"),
    (r"早(?=\d|[一二两三四五六七八九十])", "早上"),
    (r"晚(?=\d|[一二两三四五六七八九十])", "晚上"),
    (r"明晚", "明天晚间"),
    (rf"这个?月(?P<d>\d+|{_CN_NUMBER})(?P<u>[号日])", r"\g<d>\g<u>"),
    (r"本(?=周|月|星期|礼拜)", "这"),
    (rf"差(?:(?P<q>一刻)|(?P<m>\d+|{_CN_NUMBER})分)(?P<h>\d+|{_CN_NUMBER})点", _to_hour),
    (rf"(?P<h>\d+|{_CN_NUMBER})点(?P<q>一|三)刻", _quarters),
    (r"(?P<h>\d{1,2})点(?P<m>\d\d)分?", r"\g<h>:\g<m>"),
    (rf"凌晨(?P<h>\d+|{_CN_NUMBER})点(?:(?P<half>半)|(?P<m>\d+|{_CN_NUMBER})分?)?", _small_hours),
    (r"半夜(?:12|十二)点", "零点"),
    (r"深夜", "晚上"),
    (r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})",
     lambda m: f"{m['y']}-{int(m['m']):02d}-{int(m['d']):02d}"),
)  # fmt: skip


def _weekday_list(match: re.Match[str]) -> str:
    """``每周一三五`` → `` every monday and wednesday and friday ``."""
    days = re.findall(r"[一二三四五六日天1-7]", match["days"])
    return " every " + " and ".join(_WEEKDAYS[d] for d in days) + " "


CANONICAL = rules(
    # holidays are refused (their days depend on the country); beside a real time they are text
    (r"春节|中秋节?|国庆节?|端午节?|情人节|母亲节|父亲节|清明节?|元宵节?|圣诞节?|平安夜|元旦|新年"
     r"|除夕|七夕|重阳节?|腊八节?|劳动节|儿童节|妇女节|万圣节|感恩节|复活节", " namedholiday "),
    (r"半年", "6个月"),
    (r"几个?(?:分钟|小时|天|周|星期|个?月)(?:以?后|之后)", " in a few minutes "),
    (rf"每个?{_WEEK}(?P<d>[一二三四五六日天1-7])(?:到|至|-)(?:{_WEEK})?(?P<e>[一二三四五六日天1-7])",
     lambda m: " every weekday " if (m["d"], m["e"]) in (("一", "五"), ("1", "5")) else m[0]),
    (rf"(?:{_WEEK})?[一1](?:到|至|-){_WEEK}?[五5](?:每天)?", " every weekday "),
    (rf"每个?{_WEEK}(?P<days>[一二三四五六日天1-7]+)", _weekday_list),
    (r"每个?工作日|工作日每天|工作日", " every weekday "),
    (r"每个?周末", " every weekend "),
    (r"每隔一个?(?:周|星期|礼拜)的?", " every other week on "),
    (r"每隔一天", " every other day "),
    (r"每隔一个?月", " every other month "),
    (r"每个?小时", " hourly "),
    (r"每半小时|每半个小时", " every 30 minutes "),
    (r"每晚", " every evening "),
    (r"每个?月的?最后一天", " every last day of the month "),
    (r"每个?月的?", " every month on "),
    (r"每年的?", " every year "),
    (r"每天|天天|每日", " every day "),
    (rf"每隔?(?P<span>{_SPAN})",
     lambda m: " every " + _relative(m).replace(" in ", "", 1).replace(" 1 ", " ")),
    (r"每周|每个?星期|每个?礼拜", " every week "),
    (r"一刻钟", "15分钟"),
    (rf"(?P<span>{_SPAN})(?:以后|之后|后)", _relative),
    (rf"过(?P<span>{_SPAN})", _relative),
    (r"以后(?=提醒|叫)|^以后|一会儿|稍后|过会儿|改天|某天|有空的?时候", " sometime "),
    (rf"下下个?{_WEEK}(?P<d>[一二三四五六日天1-7])",
     lambda m: f" {_WEEKDAYS[m['d']]} of the week after next "),
    (rf"(?:下个?|下一个?){_WEEK}(?P<d>[一二三四五六日天1-7])",
     lambda m: f" {_WEEKDAYS[m['d']]} of next week "),
    (rf"{_WEEK}(?P<d>[一二三四五六日天1-7])", _weekday),
    (r"下个?周末", " next weekend "),
    (r"周末", " weekend "),
    (r"下个?(?:周|星期|礼拜)", " next week "),
    (r"下个?月", " next month "),
    (r"明年", " next year "),
    (r"上个?月", " last month "),
    (r"第(?P<n>[一二三四五1-5])个?", lambda m: " " + ("first", "second", "third", "fourth",
     "fifth")[int(cn_number(m["n"])) - 1] + " "),
    (r"最后一个", " last "),
    (r"最后一天", " last day "),
    (rf"(?<!月)(?<![\d一二三四五六七八九十])(?P<d>\d+|{_CN_NUMBER})(?:号|日)",
     lambda m: f" the {int(cn_number(m['d']))}th "),
    (r"今天晚上", " this evening "),
    (r"今晚", " tonight "),
    (r"这个?月", " this month "),
    (r"今天|今日", " today "),
    (r"大后天", " the day after the day after tomorrow "),
    (r"后天", " the day after tomorrow "),
    (r"明早", " tomorrow morning "),
    (r"明天|明日", " tomorrow "),
    (r"前天", " 2 days ago "),
    (r"昨天|昨晚", " yesterday "),
    (r"早上|早晨|清晨", " morning "),
    (r"中午", " noon "),
    (r"下午", " afternoon "),
    (r"晚间", " night "),
    (r"傍晚|晚上|夜里", " evening "),
    (r"零点|午夜", " midnight "),
    (r"和|跟|、", " and "),
)  # fmt: skip

LANGUAGE = Language(
    code="zh",
    normalize=NORMALIZE,
    canonical=CANONICAL,
    lead=re.compile(
        r"^(?:(?:请|麻烦)?(?:提醒我一下|提醒一下我|提醒我|叫我|通知我|提醒|告诉我|记得)"
        r"|帮我设(?:个|一个)?提醒|请在|请(?=提醒|$)|在|的时候|再$|[:：,，;；、.。!！\s]+)"
    ),
    trail=re.compile(r"(?:提醒我|叫我|通知我|的|在|于|请在|请|[:：,，;；、\-])$"),
    spaced=False,
    examples="10分钟后 · 明天上午9点 · 今晚8点 · 周五下午3点 · 下周一 · 3月3日 · 每天早上8点 · 每周一9点",
)
