"""Doctor check of the licences of the models in use: printed, and a warning for a non-commercial one."""

from __future__ import annotations

from device.config import Settings
from device.doctor.model_licences import VOICE, ModelLicence, recogniser_licence, wake_licence
from device.doctor.result import Result, in_config, passed, warned


def recogniser_in_use(settings: Settings) -> tuple[str, str, str]:
    """(engine, model folder, second opinion's engine or "") as `reorder run` chooses them (device.engines.choose),
    loading nothing."""
    from device.engines import choose

    chosen = choose(settings)
    return chosen.engine, chosen.model.name if chosen.model is not None else "", chosen.second


def _said(kind: str, entry: ModelLicence) -> str:
    return f"{kind}: {entry.what} ({entry.licence})"


def check_licences(settings: Settings) -> Result:
    """The licence of each model in use; warns when one may not be used commercially."""
    name = "licences"
    engine, model, second = recogniser_in_use(settings)
    used = [("wake word", wake_licence(settings)), ("recogniser", recogniser_licence(engine, model))]
    if second:
        used.append(("second opinion", recogniser_licence(second)))
    if settings.confirmation.speak:
        used.append(("voice", VOICE))
    detail = "; ".join(_said(kind, entry) for kind, entry in used)
    banned = [entry for _, entry in used if entry.commercial is False]
    if banned:
        return warned(name, detail + "; " + ", ".join(e.what for e in banned) + " may not be used commercially",
                      f"set [wake] engine = \"microwakeword\" {in_config(settings)} before shipping this device "
                      f"(see NOTICE.md)")
    unsure = [entry for _, entry in used if entry.commercial is None]
    if unsure:
        return warned(name, detail, "check the terms of " + ", ".join(e.what for e in unsure)
                      + " before shipping this device (see NOTICE.md)")
    return passed(name, detail)
