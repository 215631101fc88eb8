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

#: demo opportunities: (name, customer name, amount, expected close, actions run)
OPPORTUNITIES = [
    ("明远机械 二期产线改造", "上海明远机械有限公司", "380000.00", "2026-12-31", ["qualify", "propose"]),
    ("智联科技 年度服务续约", "北京智联科技股份有限公司", "96000.00", "2026-11-30",
     ["qualify", "propose", "negotiate", "win"]),
    ("恒达商贸 门店系统", "广州恒达商贸有限公司", "45000.00", None, []),
]


def load_opportunities(env):
    """Demo opportunities, moved along the pipeline by its own actions (a
    state is never written directly). Their customers are found by name,
    which ``keel_demo_data`` cannot express."""
    users = env["core.user"].search([["login", "=", "admin"]])
    env = type(env)(env.db, env.conn, env.registry, users.id if users else env.uid, su=True)
    opportunities = env["crm.opportunity"]
    for name, customer, amount, close, actions in OPPORTUNITIES:
        found = env["crm.customer"].search([["name", "=", customer]], limit=1)
        if not found or opportunities.search_count([["name", "=", name]]):
            continue
        record = opportunities.create({"name": name, "customer_id": found.id, "amount": amount,
                                       "expected_close": close})
        for action in actions:
            record.action(action)
