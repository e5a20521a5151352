import { registry } from "@web/core/registry";

import { openInvoicing, openMenu, statusIs } from "./tour_steps";

const ROOT = "billing_bridge.menu_billing_bridge_root";

/**
 * A finance user (group_billing_user only, no accounting group) opens the invoices the
 * bridge booked, from the bridge's menu, down to an invoice and its payment.
 */
registry.category("web_tour.tours").add("billing_bridge_finance_ledger", {
    url: "/odoo",
    steps: () => [
        ...openInvoicing(),
        ...openMenu(ROOT, "billing_bridge.menu_billing_invoices"),
        {
            content: "Open the invoice the bridge booked",
            trigger: ".o_data_row:contains(Ada Lovelace) .o_data_cell[name=invoice_partner_display_name]",
            run: "click",
        },
        statusIs("Posted"),
        {
            content: "Its customer",
            trigger: ".o_form_view .o_field_widget[name=partner_id]:contains(Ada Lovelace)",
        },
        {
            content: "Paid by the payment the bridge registered",
            trigger: ".o_form_view .o_widget_web_ribbon .ribbon:contains(Paid)",
        },
        {
            content: "Read only: no button to change the invoice",
            trigger: ".o_form_view:not(:has(button[name=button_draft])):not(:has(button[name=action_register_payment]))",
        },
    ],
});
