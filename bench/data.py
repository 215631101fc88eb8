"""Realistic, reproducible customer rows: Chinese and English names of
companies and people, ~50 cities, phones, mobiles, emails."""
import random

CITIES = ["上海", "北京", "广州", "深圳", "杭州", "南京", "苏州", "成都", "重庆", "武汉",
          "西安", "天津", "长沙", "郑州", "青岛", "济南", "宁波", "厦门", "福州", "合肥",
          "无锡", "大连", "沈阳", "哈尔滨", "长春", "昆明", "贵阳", "南宁", "南昌", "太原",
          "石家庄", "兰州", "乌鲁木齐", "呼和浩特", "银川", "西宁", "拉萨", "海口", "三亚", "珠海",
          "佛山", "东莞", "温州", "绍兴", "嘉兴", "常州", "徐州", "烟台", "泉州", "香港"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建华文斌宇浩然欣怡子涵梓萱一鸣晨阳思远"
BRANDS = ["华盛", "鼎新", "恒通", "瑞丰", "金源", "宏达", "天成", "博远", "新宇", "中科", "远航", "聚力",
          "卓越", "海纳", "长青", "万象", "安信", "德润", "嘉禾", "泰和"]
TRADES = ["科技", "贸易", "电子", "机械", "物流", "食品", "医药", "建材", "服饰", "软件", "咨询", "化工"]
SUFFIX = ["有限公司", "股份有限公司", "集团有限公司", "贸易商行"]
FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
         "Sarah", "Charles", "Karen", "Daniel", "Emma", "Oliver", "Sophia", "Lucas", "Mia"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
        "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris",
        "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott"]
WORDS = ["Acme", "Global", "Pacific", "Summit", "Harbor", "Evergreen", "Pioneer", "Vertex", "Atlas",
         "Blue River", "Northstar", "Silverline", "Golden Gate", "Crescent", "Oak & Stone"]
KINDS_EN = ["Trading", "Logistics", "Software", "Foods", "Industries", "Consulting", "Partners"]
SUFFIX_EN = ["Ltd", "Co., Ltd", "Inc.", "LLC", "Group"]
MAIL = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "example.com"]


def customers(n, owner_id, seed=20261123):
    """``n`` value dicts for ``crm.customer`` (no code: the sequence fills it)."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        company = rnd.random() < 0.6
        chinese = rnd.random() < 0.7
        city = rnd.choice(CITIES)
        if company and chinese:
            # the number keeps names apart once normalised (duplicate check: city and legal form go)
            name = f"{city}{rnd.choice(BRANDS)}{i}{rnd.choice(TRADES)}{rnd.choice(SUFFIX)}"
            mailbox = f"info{i}"
        elif company:
            name = f"{rnd.choice(WORDS)} {rnd.choice(KINDS_EN)} {i} {rnd.choice(SUFFIX_EN)}"
            mailbox = f"sales{i}"
        elif chinese:
            name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))
            mailbox = f"user{i}"
        else:
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            name = f"{first} {last}"
            mailbox = f"{first.lower()}.{last.lower()}{i}"
        rows.append({
            "name": name,
            "kind": "company" if company else "person",
            # unique, as the duplicate check wants them
            "phone": f"0{rnd.randint(10, 999)}-{10000000 + i * 7 + rnd.randint(0, 6)}",
            "mobile": f"1{rnd.choice('3456789')}{rnd.randint(10, 99)}{i:07d}",
            "email": f"{mailbox}@{rnd.choice(MAIL)}",
            "city": city,
            "owner_id": owner_id,
        })
    return rows


def name_prefixes(rows, count=24, seed=7):
    """Prefixes (``'王%'``, ``'Jo%'``, ``'上海华%'``…) taken from the data."""
    rnd = random.Random(seed)
    out = []
    while len(out) < count:
        name = rnd.choice(rows)["name"]
        size = 1 if ord(name[0]) > 0x2E80 and rnd.random() < 0.5 else 2 if ord(name[0]) > 0x2E80 else 3
        prefix = name[:size] + "%"
        if prefix not in out:
            out.append(prefix)
    return out
