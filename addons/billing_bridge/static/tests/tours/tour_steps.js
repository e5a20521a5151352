import { stepUtils } from "@web_tour/tour_service/tour_utils";

/** Open the Invoicing app from the apps menu, as a user does after logging in. */
export function openInvoicing() {
    return stepUtils.goToAppSteps("account.menu_finance", "Open Invoicing");
}

/** Click a top menu of the current app, then one of its items. */
export function openMenu(sectionXmlid, itemXmlid) {
    return [
        {
            content: "Open the menu",
            trigger: `.o_menu_sections [data-menu-xmlid="${sectionXmlid}"]`,
            run: "click",
        },
        {
            content: "Choose the menu item",
            trigger: `.dropdown-item[data-menu-xmlid="${itemXmlid}"]`,
            run: "click",
        },
    ];
}

/** Type in a many2one field and pick the proposed record whose name contains `text`. */
export function pickRecord(fieldName, text, scope = "") {
    const field = `${scope} .o_field_widget[name=${fieldName}]`.trim();
    return [
        {
            content: `Search ${text} in ${fieldName}`,
            trigger: `${field} input`,
            run: `edit ${text}`,
        },
        {
            content: `Pick ${text}`,
            trigger: `.o-autocomplete--dropdown-menu .ui-menu-item a:contains("${text}")`,
            run: "click",
        },
        {
            content: `${fieldName} is set`,
            trigger: `${field} input:value("${text}")`,
        },
    ];
}

/** The current stage of the form's status bar. */
export function statusIs(label) {
    return {
        content: `The record is ${label}`,
        trigger: `.o_statusbar_status .o_arrow_button_current:contains("${label}")`,
    };
}
