import { registry } from "@web/core/registry";

import { openInvoicing, openMenu, pickRecord, statusIs } from "./tour_steps";

const ROOT = "billing_bridge.menu_billing_bridge_root";

function openWaitingException() {
    return [
        ...openInvoicing(),
        ...openMenu(ROOT, "billing_bridge.menu_billing_exception"),
        {
            content: "The invoice waits for the mapping of its price",
            trigger: ".o_kanban_record:contains(price_team)",
            run: "click",
        },
        {
            trigger: `.o_form_view .o_field_widget[name=exception_type]:contains("Missing mapping")`,
        },
    ];
}

/**
 * A billing administrator creates the missing mapping rule from the exception,
 * checks the dry run and saves: the waiting invoice is booked.
 */
registry.category("web_tour.tours").add("billing_bridge_resolve_exception", {
    url: "/odoo",
    steps: () => [
        ...openWaitingException(),
        {
            trigger: ".o_statusbar_buttons button[name=action_create_mapping_rule]",
            run: "click",
        },
        {
            content: "The wizard knows the price reference and the waiting invoice",
            trigger: `.modal .o_field_widget[name=external_ref] input:value("price_team")`,
        },
        {
            trigger: ".modal .o_field_widget[name=waiting_count]:contains(1)",
        },
        ...pickRecord("product_id", "Team plan", ".modal"),
        {
            content: "Preview what replaying would book",
            trigger: ".modal button[name=action_preview]",
            run: "click",
        },
        {
            content: "The dry run credits the income of the Team plan",
            trigger: `.modal .o_field_widget[name=line_ids] .o_data_row:contains("With this rule"):contains("Team plan"):contains("49.00")`,
        },
        {
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            content: "Replayed and booked",
            trigger: `.o_notification:contains("1 booked")`,
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        statusIs("Resolved"),
        {
            content: "Open the event",
            trigger: ".o-form-buttonbox button[name=action_open_event]",
            run: "click",
        },
        statusIs("Done"),
        {
            content: "It produced the invoice",
            trigger: ".o_field_widget[name=move_ids] .o_tag",
        },
    ],
});

/** An approver sees the exception and its actions, but rules are for administrators. */
registry.category("web_tour.tours").add("billing_bridge_exception_approver", {
    url: "/odoo",
    steps: () => [
        ...openWaitingException(),
        {
            content: "An approver can replay, approve or reject",
            trigger: ".o_statusbar_buttons button[name=action_replay_event]",
        },
        {
            content: "but only an administrator creates mapping rules",
            trigger: ".o_form_view:not(:has(button[name=action_create_mapping_rule]))",
        },
    ],
});
