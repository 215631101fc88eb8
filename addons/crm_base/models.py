"""crm_base models: ``crm.customer``, ``crm.contact``, ``crm.interaction``
(follow-ups) and ``crm.opportunity``."""
import datetime as dt

from core import fields as F
from core.i18n import _
from core.models import Model

KINDS = [("company", _("Company")), ("person", _("Person"))]
GRADES = [("potential", _("Potential")), ("intent", _("Intent")), ("deal", _("Deal"))]
INDUSTRIES = [("manufacturing", _("Manufacturing")), ("retail", _("Retail and wholesale")),
              ("it", _("Information technology")), ("finance", _("Finance")),
              ("construction", _("Construction and real estate")), ("education", _("Education")),
              ("healthcare", _("Healthcare")), ("government", _("Government")),
              ("other", _("Other"))]
SOURCES = [("referral", _("Referral")), ("website", _("Website")), ("phone", _("Inbound call")),
           ("exhibition", _("Exhibition")), ("advertising", _("Advertising")),
           ("campaign", _("Campaign")), ("other", _("Other"))]
GENDERS = [("male", _("Male")), ("female", _("Female"))]
CHANNELS = [("phone", _("Phone")), ("visit", _("Visit")), ("email", _("Email")),
            ("message", _("Message")), ("other", _("Other"))]
TAG_COLOURS = [("grey", _("Grey")), ("red", _("Red")), ("orange", _("Orange")),
               ("green", _("Green")), ("blue", _("Blue")), ("purple", _("Purple"))]
#: the stages of an opportunity: the states of its workflow (see workflow.py)
STAGES = [("new", _("New")), ("qualified", _("Qualified")), ("proposal", _("Proposal")),
          ("negotiation", _("Negotiation")), ("won", _("Won")), ("lost", _("Lost"))]


def _now(env):
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)


def models():
    return [
        Model("crm.customer", _("Customer"), order="name", import_keys=[
            ("code", "exact"), ("name", "company"), ("phone", "phone"), ("mobile", "phone"),
            ("email", "email"), ("credit_code", "credit_code")], fields={
            "code": F.Char(_("Code"), unique=True, sequence="crm.customer",
                           help=_("Filled from the customer sequence when left empty")),
            "name": F.Char(_("Name"), required=True, index=True),
            "kind": F.Selection(_("Kind"), options=KINDS, default="company", required=True),
            "phone": F.Char(_("Phone"), index=True),
            "mobile": F.Char(_("Mobile"), index=True),
            "email": F.Char(_("Email"), index=True),
            "city": F.Char(_("City"), index=True),
            "region": F.Char(_("Region")),
            "address": F.Text(_("Address")),
            "industry": F.Selection(_("Industry"), options=INDUSTRIES),
            "source": F.Selection(_("Source"), options=SOURCES),
            "grade": F.Selection(_("Grade"), options=GRADES, default="potential"),
            "level": F.Char(_("Level"), help=_("A level of your own, e.g. A/B/C or gold")),
            "owner_id": F.Many2one("core.user", _("Owner")),
            "department_id": F.Many2one("core.department", _("Department")),
            "next_contact_at": F.Datetime(_("Next contact")),
            "contact_cycle_days": F.Integer(_("Contact cycle (days)")),
            "in_pool": F.Boolean(_("In the lead pool"), default=False, index=True),
            "gender": F.Selection(_("Gender"), options=GENDERS),
            "birthday": F.Date(_("Birthday")),
            "occupation": F.Char(_("Occupation")),
            "hobbies": F.Char(_("Hobbies")),
            "tag_ids": F.Many2many("crm.tag", _("Tags")),
            "contact_ids": F.One2many("crm.contact", "customer_id", _("Contacts")),
            "interaction_ids": F.One2many("crm.interaction", "customer_id", _("Follow-ups")),
        }),
        Model("crm.tag", _("Customer tag"), order="name", fields={
            "name": F.Char(_("Name"), required=True, unique=True),
            "color": F.Selection(_("Colour"), options=TAG_COLOURS),
        }),
        Model("crm.contact", _("Contact"), order="name", access_parent="customer_id", fields={
            "customer_id": F.Many2one("crm.customer", _("Customer"), required=True, ondelete="cascade"),
            "name": F.Char(_("Name"), required=True, index=True),
            "title": F.Char(_("Title")),
            "department": F.Char(_("Department at the customer")),
            "reports_to_id": F.Many2one("crm.contact", _("Reports to")),
            "phone": F.Char(_("Phone")),
            "mobile": F.Char(_("Mobile"), index=True),
            "email": F.Char(_("Email")),
            "birthday": F.Date(_("Birthday")),
        }),
        Model("crm.interaction", _("Follow-up"), order="at desc, id desc", rec_name="summary",
              access_parent="customer_id", fields={
                  "customer_id": F.Many2one("crm.customer", _("Customer"), required=True,
                                            ondelete="cascade"),
                  "contact_id": F.Many2one("crm.contact", _("Contact")),
                  "channel": F.Selection(_("Channel"), options=CHANNELS, default="phone",
                                         required=True),
                  "at": F.Datetime(_("Time"), required=True, index=True, default=_now),
                  "summary": F.Text(_("Summary"), required=True),
                  "outcome": F.Text(_("Outcome")),
                  "next_contact_at": F.Datetime(_("Next contact")),
                  "owner_id": F.Many2one("core.user", _("Owner")),
              }),
        Model("crm.opportunity", _("Opportunity"), order="expected_close, id", fields={
            "name": F.Char(_("Name"), required=True, index=True),
            "customer_id": F.Many2one("crm.customer", _("Customer"), required=True, ondelete="restrict"),
            "contact_id": F.Many2one("crm.contact", _("Contact")),
            "amount": F.Decimal(_("Amount"), digits=18, scale=2),
            "probability": F.Integer(_("Probability (%)"), default=10),
            "expected_close": F.Date(_("Expected close")),
            "stage": F.Selection(_("Stage"), options=STAGES, index=True,
                                 help=_("Changes only through the workflow's actions")),
            "owner_id": F.Many2one("core.user", _("Owner")),
            "department_id": F.Many2one("core.department", _("Department")),
            "lost_reason": F.Text(_("Lost reason")),
            "description": F.Text(_("Description")),
        }),
    ]
