from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    billing_four_eyes = fields.Boolean(related="company_id.billing_four_eyes", readonly=False)
    billing_escalation_days = fields.Integer(related="company_id.billing_escalation_days",
                                             readonly=False)

    def action_billing_bridge_providers(self):
        return self.env["ir.actions.act_window"]._for_xml_id("billing_bridge.billing_provider_action")

    def action_billing_bridge_mapping_rules(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_mapping_rule_action")
