"""Reference data: Shanghai's districts (GB/T 2260) and the GB/T 4754-2017 industry sections."""

from __future__ import annotations

# code: (中文, English). 310000 is the city office, which sees every district.
SHANGHAI_DISTRICTS: dict[str, tuple[str, str]] = {
    "310101": ("黄浦区", "Huangpu"),
    "310104": ("徐汇区", "Xuhui"),
    "310105": ("长宁区", "Changning"),
    "310106": ("静安区", "Jing'an"),
    "310107": ("普陀区", "Putuo"),
    "310109": ("虹口区", "Hongkou"),
    "310110": ("杨浦区", "Yangpu"),
    "310112": ("闵行区", "Minhang"),
    "310113": ("宝山区", "Baoshan"),
    "310114": ("嘉定区", "Jiading"),
    "310115": ("浦东新区", "Pudong"),
    "310116": ("金山区", "Jinshan"),
    "310117": ("松江区", "Songjiang"),
    "310118": ("青浦区", "Qingpu"),
    "310120": ("奉贤区", "Fengxian"),
    "310151": ("崇明区", "Chongming"),
}
CITY = ("310000", "上海市", "Shanghai (city)")

# Divisions that appear on valid Shanghai codes though the district was merged or renamed since:
# 310103 卢湾 (into 黄浦, 2011), 310108 闸北 (into 静安, 2015), 310230 崇明县 (became 310151, 2016).
SHANGHAI_HISTORIC_DIVISIONS = {"310103": "310101", "310108": "310106", "310230": "310151"}

# GB/T 2260 province-level prefixes (first two digits of a division code).
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)

# GB/T 4754-2017 sections: code -> (中文, English, divisions).
INDUSTRY_SECTIONS: dict[str, tuple[str, str, range]] = {
    "A": ("农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery", range(1, 6)),
    "B": ("采矿业", "Mining", range(6, 13)),
    "C": ("制造业", "Manufacturing", range(13, 44)),
    "D": ("电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water", range(44, 47)),
    "E": ("建筑业", "Construction", range(47, 51)),
    "F": ("批发和零售业", "Wholesale and retail trade", range(51, 53)),
    "G": ("交通运输、仓储和邮政业", "Transport, storage and post", range(53, 61)),
    "H": ("住宿和餐饮业", "Accommodation and catering", range(61, 63)),
    "I": ("信息传输、软件和信息技术服务业", "Information transmission, software and IT services", range(63, 66)),
    "J": ("金融业", "Finance", range(66, 70)),
    "K": ("房地产业", "Real estate", range(70, 71)),
    "L": ("租赁和商务服务业", "Leasing and business services", range(71, 73)),
    "M": ("科学研究和技术服务业", "Scientific research and technical services", range(73, 76)),
    "N": ("水利、环境和公共设施管理业", "Water conservancy, environment and public facilities", range(76, 80)),
    "O": ("居民服务、修理和其他服务业", "Resident services, repair and other services", range(80, 83)),
    "P": ("教育", "Education", range(83, 84)),
    "Q": ("卫生和社会工作", "Health and social work", range(84, 86)),
    "R": ("文化、体育和娱乐业", "Culture, sports and entertainment", range(86, 91)),
    "S": ("公共管理、社会保障和社会组织", "Public administration and social organisations", range(91, 97)),
    "T": ("国际组织", "International organisations", range(97, 98)),
}


def division_belongs_to_section(section: str, division: str) -> bool:
    """True when the two-digit division (e.g. "39") lies in the section (e.g. "C")."""
    entry = INDUSTRY_SECTIONS.get(section)
    return entry is not None and division.isdigit() and len(division) == 2 and int(division) in entry[2]
