import { registry } from "@web/core/registry";

import { openInvoicing, openMenu } from "./tour_steps";

const ROOT = "billing_bridge.menu_billing_bridge_root";

/**
 * A finance user (group_billing_user only) follows the integration, the month end and
 * the recurring revenue: everything is readable, nothing is approved from here.
 */
registry.category("web_tour.tours").add("billing_bridge_finance_dashboards", {
    url: "/odoo",
    steps: () => [
        ...openInvoicing(),
        ...openMenu(ROOT, "billing_bridge.menu_billing_health"),
        {
            content: "One card per provider with its traffic",
            trigger: `.o_kanban_record:contains("Test CRM"):contains("Received / processed")`,
        },
        {
            content: "Open the provider's open exceptions",
            trigger: `.o_kanban_record:contains("Test CRM") button[name=action_view_open_exceptions]`,
            run: "click",
        },
        {
            content: "The invoice waiting for a rule is among them",
            trigger: ".o_kanban_record:contains(price_team)",
        },
        ...openMenu(ROOT, "billing_bridge.menu_billing_reconciliation_run"),
        {
            content: "Open last month's run",
            trigger: `.o_data_row:contains("Test CRM") .o_data_cell[name=provider_id]`,
            run: "click",
        },
        {
            content: "Totals per currency",
            trigger: ".o_field_widget[name=total_ids] .o_data_row:contains(USD)",
        },
        {
            content: "A finance user reads the run; approving is for approvers",
            trigger: ".o_form_view:not(:has(button[name=action_approve])):not(:has(button[name=action_compute]))",
        },
        ...openMenu(ROOT, "billing_bridge.menu_billing_mrr_dashboard"),
        {
            content: "The MRR trend of the last twelve months",
            trigger: ".o_graph_renderer canvas",
        },
        {
            content: "Month by month",
            trigger: ".o_switch_view.o_list",
            run: "click",
        },
        {
            // the test checks the figures: the company's subscriptions, demo data included
            content: "Each month's MRR",
            trigger: `.o_list_view .o_data_row .o_data_cell[name=mrr]:not(:empty)`,
        },
    ],
});
