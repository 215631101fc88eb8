"""Demo customers and contacts (loaded by ``keel init --demo``)."""

DEMO = [
    {"model": "crm.customer", "key": "name", "records": [
        {"name": "上海明远机械有限公司", "kind": "company", "city": "上海", "region": "华东",
         "industry": "manufacturing", "source": "exhibition", "grade": "intent", "phone": "021-5566 7788"},
        {"name": "北京智联科技股份有限公司", "kind": "company", "city": "北京", "region": "华北",
         "industry": "it", "source": "website", "grade": "deal", "email": "info@zhilian.example.cn"},
        {"name": "广州恒达商贸有限公司", "kind": "company", "city": "广州", "region": "华南",
         "industry": "retail", "source": "referral", "grade": "potential"},
        {"name": "Chengdu Ridge Foods Co., Ltd.", "kind": "company", "city": "成都", "region": "西南",
         "industry": "retail", "source": "advertising", "grade": "intent"},
        {"name": "王晓明", "kind": "person", "city": "杭州", "mobile": "13800138000",
         "gender": "male", "occupation": "工程师", "grade": "potential"},
    ]},
]
