import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

import { openInvoicing, openMenu, pickRecord, statusIs } from "./tour_steps";

const CONFIGURATION = "account.menu_finance_configuration";

/**
 * A billing administrator (group_billing_admin only) sets up a generic provider
 * and its first mapping rule. Webhook secrets are for system administrators:
 * the field is not on their form, and enabling without a secret is refused.
 */
registry.category("web_tour.tours").add("billing_bridge_configure_provider", {
    url: "/odoo",
    steps: () => [
        ...openInvoicing(),
        ...openMenu(CONFIGURATION, "billing_bridge.menu_billing_provider"),
        {
            content: "Create a provider",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=name] input",
            run: "edit Acme CRM",
        },
        {
            content: "It sends canonical events through the generic signed API",
            trigger: ".o_field_widget[name=provider_type] select",
            run: 'select "generic"',
        },
        ...pickRecord("clearing_journal_id", "Acme CRM balance"),
        ...pickRecord("bank_journal_id", "Acme bank"),
        ...pickRecord("sale_journal_id", "Customer Invoices"),
        ...pickRecord("fee_account_id", "Acme CRM fees"),
        ...pickRecord("dispute_account_id", "Acme CRM disputed funds"),
        {
            content: "The webhook secret is not shown to a billing administrator",
            trigger: ".o_form_view:not(:has(.o_field_widget[name=webhook_secret]))",
        },
        ...stepUtils.saveForm(),
        statusIs("Draft"),
        {
            content: "Try to enable it",
            trigger: ".o_statusbar_buttons button[name=action_enable]",
            run: "click",
        },
        {
            content: "Refused: nobody has set the webhook signing secret yet",
            trigger: `.modal:contains("webhook signing secret") .modal-footer .btn-primary`,
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        statusIs("Draft"),
        ...openMenu(CONFIGURATION, "billing_bridge.menu_billing_mapping_rule"),
        {
            content: "Create a mapping rule",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=rule_type] select",
            run: 'select "product"',
        },
        {
            content: "The provider's price reference",
            trigger: ".o_field_widget[name=external_ref] input",
            run: "edit price_team",
        },
        ...pickRecord("provider_id", "Acme CRM"),
        ...pickRecord("product_id", "Team plan"),
        ...stepUtils.saveForm(),
        {
            content: "Back to the rules: the new one is listed",
            trigger: `.o_breadcrumb a:contains("Mapping Rules")`,
            run: "click",
        },
        {
            content: "Rules are grouped by type",
            trigger: ".o_list_view .o_group_header:contains(Product)",
            run: "click",
        },
        {
            trigger: `.o_list_view .o_data_row:contains("price_team"):contains("Team plan")`,
        },
    ],
});

/** A system administrator pastes the webhook secret and enables the provider. */
registry.category("web_tour.tours").add("billing_bridge_enable_provider", {
    url: "/odoo/action-billing_bridge.billing_provider_action",
    steps: () => [
        {
            content: "Open the provider",
            trigger: `.o_data_row:contains("Acme CRM") .o_data_cell[name=name]`,
            run: "click",
        },
        {
            content: "Paste the endpoint's signing secret",
            trigger: ".o_field_widget[name=webhook_secret] input",
            run: "edit whsec_acme_tour_secret",
        },
        ...stepUtils.saveForm(),
        {
            trigger: ".o_statusbar_buttons button[name=action_enable]",
            run: "click",
        },
        statusIs("Enabled"),
        {
            content: "The URL to give the billing platform",
            trigger: ".o_field_widget[name=webhook_url]:contains(/billing_bridge/webhook/generic/)",
        },
    ],
});
