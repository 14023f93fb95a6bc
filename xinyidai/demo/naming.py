"""Company names and unified social credit codes that read like real Shanghai registrations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xinyidai.uscc import ALPHABET, make_uscc

# 字号: two (sometimes three) of these characters, as in 上海锦程… or 上海瑞丰华….
TRADE_NAME_CHARS = tuple(
    "华瑞鑫恒达通盛宏泰嘉信融汇锦启航博创智新源丰联捷优浩卓凯宇欣润峰远晟昊朗睿晨星辰图兴安和合众为德利"
    "康美佳亿天中东海申沪浦江明光金云帆领科蓝青品尚元易乐万百千弘昌隆盈禾沐逸骏铭朗致臻璟翔鼎誉舜尧"
)

# 行业词 by GB/T 4754-2017 division: what the name says the company does.
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "01": ("农业科技", "农业发展", "果蔬种植"), "03": ("畜牧",), "04": ("水产养殖",), "05": ("农业服务",),
    "13": ("食品", "粮油"), "14": ("食品", "烘焙食品"), "17": ("纺织",), "18": ("服饰", "制衣"),
    "22": ("包装材料", "纸业"), "23": ("印务", "彩印"), "26": ("化工", "新材料", "涂料"),
    "27": ("医药", "生物制药"), "29": ("塑料制品", "橡塑制品"), "33": ("金属制品", "五金"),
    "34": ("机械制造", "精密机械", "机械设备", "阀门"), "35": ("自动化设备", "专用设备", "医疗器械"),
    "36": ("汽车零部件", "汽车配件"), "38": ("电气", "电气设备", "电器"), "39": ("电子", "电子科技", "光电"),
    "40": ("仪器仪表",), "41": ("工艺品",),
    "44": ("新能源", "光伏科技"), "45": ("燃气",), "46": ("水务",),
    "47": ("建筑工程", "建设"), "48": ("市政工程", "建设工程"), "49": ("机电安装工程", "安装工程"),
    "50": ("建筑装饰工程", "装饰工程", "装潢设计工程"),
    "51": ("贸易", "商贸", "国际贸易", "实业", "供应链管理", "进出口", "建材", "五金机电", "电子元器件", "医疗器械"),
    "52": ("商贸", "超市", "百货", "电子商务", "服饰", "汽车销售", "大药房", "便利店"),
    "54": ("物流", "运输", "货运"), "58": ("国际货运代理", "物流"), "59": ("仓储", "仓储物流"),
    "61": ("酒店管理", "宾馆"), "62": ("餐饮管理", "餐饮"),
    "63": ("通信技术", "网络工程"), "64": ("网络科技", "互联网科技"),
    "65": ("信息科技", "软件技术", "数据科技", "智能科技", "信息技术", "计算机系统"),
    "66": ("融资租赁", "商业保理"), "67": ("投资管理",), "68": ("保险代理",), "69": ("金融信息服务",),
    "70": ("房地产经纪", "置业", "物业管理"),
    "71": ("租赁", "设备租赁", "汽车租赁"),
    "72": ("企业管理咨询", "商务咨询", "文化传播", "广告", "会展服务", "人力资源", "品牌管理", "市场营销策划",
           "知识产权代理", "企业服务"),
    "73": ("生物技术", "新材料研究", "医药研发"), "74": ("检测技术", "工程设计", "建筑设计", "环境检测"),
    "75": ("科技", "环保科技", "新能源科技", "生物科技", "科技发展", "技术服务"),
    "77": ("环境工程", "环保工程"), "78": ("园林绿化", "市政设施管理"),
    "80": ("家政服务", "美容美发", "摄影"), "81": ("汽车维修", "家电维修"), "82": ("清洁服务", "洗涤服务"),
    "83": ("教育科技", "职业技能培训"), "84": ("门诊部", "医疗管理"), "85": ("养老服务",),
    "86": ("文化传媒",), "87": ("影视文化", "影视制作"), "88": ("文化艺术",), "89": ("体育发展", "健身"),
    "90": ("文化娱乐",),
}

# Organization-code bodies (chars 9–16) change with the year of registration: nine-digit organization
# codes before the 2015 reform, then MA1…, MA7… (2021–22) and MAC… (2023 on).
_OLD_PREFIXES = ("55", "56", "57", "58", "59", "60", "63", "66", "67", "68", "69", "73", "74", "75", "76", "77", "78")
_MA1_LETTER_BY_YEAR = {2015: "E", 2016: "F", 2017: "H", 2018: "K", 2019: "M", 2020: "Q"}
_CHARS = np.array(list(ALPHABET))
_DIGITS = np.array(list("0123456789"))


def organization_bodies(rng: np.random.Generator, years: np.ndarray) -> list[str]:
    """Eight-character organization-code bodies (make_uscc adds the GB 11714 check character)."""
    n = len(years)
    tails = ["".join(row) for row in _CHARS[rng.integers(0, len(_CHARS), size=(n, 5))]]
    digits = ["".join(row) for row in _DIGITS[rng.integers(0, 10, size=(n, 6))]]
    old = rng.integers(0, len(_OLD_PREFIXES), size=n)
    later = rng.integers(0, 2, size=n)  # MA1F → MA1G …: the letter moves on during a year
    bodies = []
    for i, year in enumerate(years.tolist()):
        if year < 2015:
            bodies.append(_OLD_PREFIXES[old[i]] + digits[i])
        elif year <= 2020:
            letter = ALPHABET[ALPHABET.index(_MA1_LETTER_BY_YEAR[year]) + later[i]]
            bodies.append("MA1" + letter + tails[i][:4])
        else:
            bodies.append(("MA7" if year <= 2022 else "MAC") + tails[i])
    return bodies


def unique_usccs(rng: np.random.Generator, districts: np.ndarray, years: np.ndarray) -> np.ndarray:
    """One valid code per enterprise, authority 9 / type 1 (企业), division = its district; redrawn until unique."""
    codes = np.empty(len(years), dtype=object)
    todo = np.arange(len(years))
    while len(todo):
        bodies = organization_bodies(rng, years[todo])
        codes[todo] = [make_uscc("91", d, b) for d, b in zip(districts[todo], bodies, strict=True)]
        todo = np.flatnonzero(pd.Series(codes).duplicated(keep="first").to_numpy())
    return codes


def company_names(rng: np.random.Generator, divisions: np.ndarray, big: np.ndarray) -> np.ndarray:
    """上海{字号}{行业词}有限公司 and its common variants; redrawn (with a longer 字号) until unique."""
    names = np.empty(len(divisions), dtype=object)
    todo = np.arange(len(divisions))
    length = 2
    while len(todo):
        names[todo] = [_one_name(rng, div, is_big, length) for div, is_big in zip(divisions[todo], big[todo], strict=True)]
        todo = np.flatnonzero(pd.Series(names).duplicated(keep="first").to_numpy())
        length = 3
    return names


def _one_name(rng: np.random.Generator, division: str, big: bool, length: int) -> str:
    chars = rng.choice(len(TRADE_NAME_CHARS), size=length, replace=False)
    trade_name = "".join(TRADE_NAME_CHARS[c] for c in chars)
    words = INDUSTRY_WORDS[division]
    word = words[rng.integers(len(words))]
    style = rng.random()
    if big and style < 0.35:
        return f"上海{trade_name}{word}股份有限公司"
    if style > 0.93:
        return f"{trade_name}（上海）{word}有限公司"
    return f"上海{trade_name}{word}有限公司"
