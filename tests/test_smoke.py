def test_customer_roundtrip(env):
    customers = env["crm.customer"]
    rec = customers.create({"name": "上海明远机械有限公司", "city": "上海"})
    assert rec.code.startswith("C")
    assert customers.search_count([["city", "=", "上海"]]) == 1
