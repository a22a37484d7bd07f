#!/usr/bin/env bash
# Install or update the reorder speaker on Raspberry Pi OS 64-bit (Bookworm or Trixie). Safe to run again.
#
#   sudo scripts/install.sh                      from a checkout on the Pi
#   sudo scripts/install.sh --dry-run            print every step, change nothing
#   (run by reorder-firstboot.service with --provisioning /boot/firmware/reorder --firstboot)
#
# Steps: apt (packages) -> user (system user reorder) -> venv (/opt/reorder/venv) -> pip
# (the locked dependencies of requirements/device.txt, hash-checked, then the project) -> config
# (provisioning from the boot partition to /etc/reorder) -> model
# (speech model for the configured locale, e.g. Moonshine for en-US, then prepared) -> service (systemd unit, enabled and started).
set -euo pipefail
# Raspberry Pi OS 64-bit only, Bookworm (Python 3.11) or Trixie (Python 3.13): requirements/device.txt is locked
# for both (scripts/lock checks every pinned package has an aarch64 wheel for each). 32-bit Raspberry Pi OS cannot
# run the device: onnxruntime publishes no 32-bit ARM wheel.

PREFIX=${REORDER_PREFIX:-/opt/reorder}
CONFIG_DIR=${REORDER_CONFIG_DIR:-/etc/reorder}
SERVICE_USER=${REORDER_USER:-reorder}
SYSTEMD_DIR=${REORDER_SYSTEMD_DIR:-/etc/systemd/system}
PYTHON=${REORDER_PYTHON:-python3}
STATE_DIR=/var/lib/reorder
OS_RELEASE=${REORDER_OS_RELEASE:-/etc/os-release}
SUPPORTED_OS=(bookworm trixie)
APT_PACKAGES=(python3-venv libportaudio2 espeak-ng python3-lgpio)
STEPS=(apt user venv pip config model service)
SECRETS=(mqtt-password client.key picovoice.key)
PUBLIC=(client.crt ca.pem)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(dirname "$SCRIPT_DIR")
WHEEL=""
PROVISIONING=""
MANIFEST=""
MODEL_URL=""
DRY_RUN=0
TRUST_UNVERIFIED=0
EXTRAS=""
KNOWN_EXTRAS=(french porcupine vosk prepare)
FIRSTBOOT=0
START=1
ONLY=""

usage() {
  cat <<EOF
Usage: install.sh [options]

Install or update the reorder speaker (idempotent: re-running it is safe).

  --dry-run              print every step and command, change nothing
  --source DIR           project checkout to install (default: $SOURCE)
  --wheel FILE           install this wheel instead of the checkout
  --provisioning DIR     provisioning written by scripts/provision
                         (default: /boot/firmware/reorder or /boot/reorder when present)
  --manifest FILE        model manifest (default: SOURCE/models/manifest.json)
  --model-url URL        download the model from this mirror (same checksum)
  --trust-unverified     install a model whose manifest entry has no sha256
  --extras LIST          also install these extras (${KNOWN_EXTRAS[*]}), e.g. porcupine for
                         [wake] engine = "porcupine" (french for a fr-FR locale and vosk for
                         [recognizer] engine = "vosk" are added from the device's config)
  --only STEP[,STEP]     run only these steps: ${STEPS[*]}
  --no-start             enable the service but do not (re)start it
  --firstboot            also remove reorder-firstboot.service when done
  -h, --help             this help

Environment: REORDER_PREFIX (/opt/reorder), REORDER_CONFIG_DIR (/etc/reorder),
REORDER_USER (reorder), REORDER_SYSTEMD_DIR (/etc/systemd/system), REORDER_PYTHON (python3),
REORDER_OS_RELEASE (/etc/os-release).
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --source) SOURCE=${2:?--source needs a folder}; shift ;;
    --wheel) WHEEL=${2:?--wheel needs a file}; shift ;;
    --provisioning) PROVISIONING=${2:?--provisioning needs a folder}; shift ;;
    --manifest) MANIFEST=${2:?--manifest needs a file}; shift ;;
    --model-url) MODEL_URL=${2:?--model-url needs a URL}; shift ;;
    --trust-unverified) TRUST_UNVERIFIED=1 ;;
    --extras) EXTRAS=${2:?--extras needs a list such as vosk,porcupine}; shift ;;
    --only) ONLY=${2:?--only needs a step list}; shift ;;
    --no-start) START=0 ;;
    --firstboot) FIRSTBOOT=1 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1'; see install.sh --help" ;;
  esac
  shift
done

MANIFEST=${MANIFEST:-$SOURCE/models/manifest.json}
if [ -z "$PROVISIONING" ]; then
  for candidate in /boot/firmware/reorder /boot/reorder; do
    if [ -d "$candidate" ]; then PROVISIONING=$candidate; break; fi
  done
fi

selected() {
  [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]
}

if [ -n "$ONLY" ]; then
  IFS=, read -r -a wanted <<<"$ONLY"
  for step in "${wanted[@]}"; do
    [[ " ${STEPS[*]} " == *" $step "* ]] || die "--only: unknown step '$step'; steps: ${STEPS[*]}"
  done
fi
[ -d "$SOURCE" ] || die "--source $SOURCE is not a folder; give the project checkout"
LOCK_DIR=$SOURCE/requirements
IFS=, read -r -a EXTRA_LIST <<<"$EXTRAS"
for extra in "${EXTRA_LIST[@]}"; do
  [[ " ${KNOWN_EXTRAS[*]} " == *" $extra "* ]] || die "--extras: unknown extra '$extra'; extras: ${KNOWN_EXTRAS[*]}"
done
if selected pip && [ ! -f "$LOCK_DIR/device.txt" ]; then
  die "$LOCK_DIR/device.txt not found; give --source the project checkout (scripts/lock writes it)"
fi
[ -z "$WHEEL" ] || [ -f "$WHEEL" ] || die "--wheel $WHEEL: no such file"
if selected pip && [ -z "$WHEEL" ] && [ ! -f "$SOURCE/pyproject.toml" ]; then
  die "--source $SOURCE has no pyproject.toml; give the project checkout or --wheel FILE"
fi
if selected model && [ ! -f "$MANIFEST" ]; then
  die "model manifest $MANIFEST not found; give --manifest FILE"
fi
# The system the device runs: 64-bit, and a Debian release the lock is checked for (its VERSION_CODENAME).
check_os() {
  local machine codename="" pretty="an unknown system"
  machine=$(uname -m)
  case "$machine" in
    armv6l | armv7l | armhf) die "this is a 32-bit system ($machine); flash Raspberry Pi OS 64-bit (${SUPPORTED_OS[*]}): onnxruntime has no 32-bit ARM wheel" ;;
  esac
  if [ -f "$OS_RELEASE" ]; then
    codename=$(sed -n 's/^VERSION_CODENAME=["'\'']\{0,1\}\([^"'\'']*\).*/\1/p' "$OS_RELEASE")
    pretty=$(sed -n 's/^PRETTY_NAME=["'\'']\{0,1\}\([^"'\'']*\).*/\1/p' "$OS_RELEASE")
  fi
  [[ " ${SUPPORTED_OS[*]} " == *" ${codename:-?} "* ]] ||
    die "this system is ${pretty:-unknown} (${codename:-no VERSION_CODENAME in $OS_RELEASE}); supported: Raspberry Pi OS 64-bit ${SUPPORTED_OS[*]} (flash one with Raspberry Pi Imager)"
}
if selected apt || selected pip; then check_os; fi

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  for step in apt user config service; do
    if selected "$step"; then die "the $step step needs root: run 'sudo $0' (or --dry-run to look first)"; fi
  done
fi

STEP_NO=0
step() {
  STEP_NO=$((STEP_NO + 1))
  echo "==> [$STEP_NO] $1: $2"
}

note() {
  echo "    $*"
}

# Run a command, or only print it with --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run]'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Wait (at most two minutes) for the clock to be synchronised: a Pi has no battery clock and
# apt refuses repository files dated "in the future".
wait_for_clock() {
  command -v timedatectl >/dev/null || return 0
  local waited=0
  while [ "$(timedatectl show -p NTPSynchronized --value 2>/dev/null || echo yes)" != yes ] && [ $waited -lt 120 ]; do
    if [ $waited = 0 ]; then note "waiting up to 120 s for the clock to be synchronised"; fi
    sleep 5
    waited=$((waited + 5))
  done
}

step_apt() {
  step apt "Debian packages: ${APT_PACKAGES[*]}"
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} = 0 ]; then
    note "all installed"
    return
  fi
  if [ "$DRY_RUN" = 0 ]; then wait_for_clock; fi
  run apt-get update
  if [[ " ${missing[*]} " == *" python3-lgpio "* ]] && [ "$DRY_RUN" = 0 ] &&
    ! apt-cache show python3-lgpio >/dev/null 2>&1; then
    note "WARNING: python3-lgpio is not in this system's apt sources (not Raspberry Pi OS?);"
    note "GPIO needs gpiozero's lgpio pin factory: install it later with '$PREFIX/venv/bin/pip install lgpio'"
    local kept=()
    for pkg in "${missing[@]}"; do [ "$pkg" = python3-lgpio ] || kept+=("$pkg"); done
    missing=("${kept[@]}")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

# Install Debian packages that are missing (apt-get update first), e.g. `apt_install libatomic1`.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} = 0 ] && return 0
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

step_user() {
  step user "system user '$SERVICE_USER' in groups audio and gpio"
  if ! getent group gpio >/dev/null; then
    run groupadd --system gpio
  fi
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    note "user $SERVICE_USER exists"
  else
    run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "reorder speaker" "$SERVICE_USER"
  fi
  run usermod --append --groups audio,gpio "$SERVICE_USER"
}

step_venv() {
  step venv "Python environment $PREFIX/venv (with system packages, for python3-lgpio)"
  if [ -x "$PREFIX/venv/bin/python" ]; then
    note "exists"
    return
  fi
  run install -d -m 0755 "$PREFIX"
  run "$PYTHON" -m venv --system-site-packages "$PREFIX/venv"
}

step_pip() {
  local target=${WHEEL:-$SOURCE} extra all=()
  local pip=("$PREFIX/venv/bin/python" -m pip install --disable-pip-version-check --no-cache-dir)
  local locks=(-r "$LOCK_DIR/device.txt")
  # The extras asked for, and those the device's config needs (french for fr-FR, vosk for that engine)
  mapfile -t all < <(printf '%s\n' "${EXTRA_LIST[@]}" "$(config_extras)" | sed '/^$/d' | awk '!seen[$0]++')
  for extra in "${all[@]}"; do locks+=(-r "$LOCK_DIR/device-$extra.txt"); done
  step pip "the locked dependencies (requirements/device.txt${all[*]:+ and extras ${all[*]}}), then the project from $target"
  if [[ " ${all[*]} " == *" vosk "* ]]; then apt_install libatomic1; fi  # vosk's library links against it
  # Exactly the versions and files (sha256) of the lock, on every device, whenever it is flashed.
  run "${pip[@]}" --require-hashes --no-deps "${locks[@]}"
  # The project itself: nothing more to fetch, built with the locked setuptools.
  run "${pip[@]}" --no-deps --no-build-isolation --no-index "$target"
  if [ -z "$WHEEL" ] && [ -f "$SOURCE/README.md" ]; then
    run install -m 0644 "$SOURCE/README.md" "$PREFIX/README.md"
  fi
}

step_config() {
  step config "device config and secrets into $CONFIG_DIR"
  run install -d -m 0750 -o root -g "$SERVICE_USER" "$CONFIG_DIR"
  if [ -n "$PROVISIONING" ] && [ -f "$PROVISIONING/device.toml" ]; then
    note "provisioning found in $PROVISIONING"
    if [ "$DRY_RUN" = 0 ] && [ -x "$PREFIX/venv/bin/python" ] &&
      "$PREFIX/venv/bin/python" -c 'import device.config' 2>/dev/null; then
      "$PREFIX/venv/bin/python" -c 'import sys
from device import config, errors
try:
    config.load(sys.argv[1])
except errors.ConfigError as exc:
    sys.exit(f"install.sh: {exc}")' "$PROVISIONING/device.toml"
    fi
    run install -m 0640 -o root -g "$SERVICE_USER" "$PROVISIONING/device.toml" "$CONFIG_DIR/device.toml"
    local name
    for name in "${SECRETS[@]}"; do
      if [ -f "$PROVISIONING/$name" ]; then
        run install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" "$PROVISIONING/$name" "$CONFIG_DIR/$name"
      fi
    done
    for name in "${PUBLIC[@]}"; do
      if [ -f "$PROVISIONING/$name" ]; then
        run install -m 0644 -o root -g root "$PROVISIONING/$name" "$CONFIG_DIR/$name"
      fi
    done
    # The boot partition is FAT, readable by every user of the Pi: keep no secret there.
    for name in device.toml "${SECRETS[@]}" "${PUBLIC[@]}"; do
      if [ -f "$PROVISIONING/$name" ]; then run rm -f "$PROVISIONING/$name"; fi
    done
  elif [ -f "$CONFIG_DIR/device.toml" ]; then
    note "keeping $CONFIG_DIR/device.toml (no new provisioning${PROVISIONING:+ in $PROVISIONING})"
  elif [ "$DRY_RUN" = 1 ]; then
    note "no provisioning and no $CONFIG_DIR/device.toml yet: a real run would stop here"
  else
    die "no device config: provision the card (scripts/provision), or write $CONFIG_DIR/device.toml from firmware_config/device.example.toml"
  fi
}

# A setting of the device's config as the device reads it (its config's value, else the package's
# default), e.g. `configured wake.engine`; from the installed config, else the provisioning's (the first
# boot's pip step comes before its config step); empty when neither is readable.
configured() {
  local file=$CONFIG_DIR/device.toml
  if [ ! -f "$file" ] && [ -n "$PROVISIONING" ]; then file=$PROVISIONING/device.toml; fi
  PYTHONPATH="$SOURCE" "$PYTHON" -c 'import sys
from operator import attrgetter
from device import config
print(attrgetter(sys.argv[2])(config.load(sys.argv[1])))' "$file" "$1" 2>/dev/null || true
}

# The extras the device's config needs: french (CTranslate2, Whisper's encoder) for a French locale or
# an English one with `[recognizer] second_opinion` (Whisper asked when Moonshine refuses), vosk for
# `[recognizer] engine = "vosk"`. An English device with the defaults carries neither.
config_extras() {
  case "$(configured device.locale)" in fr*) echo french ;; *) second_opinion && echo french ;; esac
  if [ "$(configured recognizer.engine)" = vosk ]; then echo vosk; fi
}

# True when the config asks for Whisper as a second opinion ("auto" or "whisper"; the device decides at start).
second_opinion() {
  case "$(configured recognizer.second_opinion)" in auto|whisper) return 0 ;; *) return 1 ;; esac
}

# Install an extra's lock (hashed, like the core) when its module is missing; it is then kept.
ensure_extra() {
  local extra=$1 module=$2
  "$PREFIX/venv/bin/python" -c "import $module" 2>/dev/null && return 0
  if [ "$extra" = vosk ]; then apt_install libatomic1; fi
  run "$PREFIX/venv/bin/python" -m pip install --disable-pip-version-check --no-cache-dir --require-hashes \
    --no-deps -r "$LOCK_DIR/device-$extra.txt"
}

# Verify a model folder the installer's laptop prepared (scripts/provision --prepare-model: every file's
# sha256 in its model.json) and move it into $PREFIX/models, replacing the old one.
install_provisioned_models() {
  local folder name
  for folder in "$PROVISIONING"/models/*/; do
    [ -f "$folder/model.json" ] || continue
    folder=${folder%/}
    name=$(basename "$folder")
    note "model $name prepared by scripts/provision: checking its files' sha256"
    "$PYTHON" -c 'import hashlib, json, sys
from pathlib import Path
folder = Path(sys.argv[1])
for name, digest in json.loads((folder / "model.json").read_text())["files"].items():
    if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
        sys.exit(f"install.sh: {folder / name} does not match its sha256 in model.json; run scripts/provision --prepare-model again")
' "$folder" || exit 1
    run install -d -m 0755 "$PREFIX/models"
    run rm -rf "$PREFIX/models/.$name.new"
    run cp -r "$folder" "$PREFIX/models/.$name.new"
    run rm -rf "$PREFIX/models/$name"
    run mv "$PREFIX/models/.$name.new" "$PREFIX/models/$name"
    run rm -rf "$folder"  # the boot partition is small: the copy on the card is not needed any more
  done
}

step_model() {
  step model "speech model for the configured locale (and wake-word files it needs) into $PREFIX/models"
  local args=(--manifest "$MANIFEST" --config "$CONFIG_DIR/device.toml" --dest "$PREFIX/models") engine
  if [ -n "$MODEL_URL" ]; then args+=(--url "$MODEL_URL"); fi
  if [ "$TRUST_UNVERIFIED" = 1 ]; then args+=(--trust-unverified); fi
  # model_fetch takes the locale's first model, or its Vosk model for `[recognizer] engine = "vosk"`;
  # that engine's package (an extra, hashed like the core) is then installed too, and kept.
  local extra
  for extra in $(config_extras); do
    case "$extra" in french) ensure_extra french ctranslate2 ;; vosk) ensure_extra vosk vosk ;; esac
  done
  if [ -n "$PROVISIONING" ] && [ -d "$PROVISIONING/models" ]; then install_provisioned_models; fi
  run "$PYTHON" "$SOURCE/scripts/model_fetch.py" "${args[@]}"
  # An English device asking for a second opinion needs Whisper base too (prepared below).
  case "$(configured device.locale)" in
    fr*) ;;
    *) if second_opinion; then
         run "$PYTHON" "$SOURCE/scripts/model_fetch.py" --manifest "$MANIFEST" --name whisper-base \
           --dest "$PREFIX/models"
       fi ;;
  esac
  # openWakeWord's ONNX files, taken from its wheel as data (the package itself, with scipy and
  # scikit-learn, is not installed): only for a device configured with that engine.
  engine=$(configured wake.engine)
  if [ "$engine" = openwakeword ]; then
    run "$PYTHON" "$SOURCE/scripts/model_fetch.py" --manifest "$MANIFEST" --name openwakeword-0.4.0 \
      --dest "$PREFIX/models"
  elif [ -z "$engine" ]; then
    note "wake-word engine unknown until $CONFIG_DIR/device.toml is in place (with openwakeword, re-run --only model)"
  fi
  # Whisper (fr-FR, or English's second opinion): model_fetch joined and verified model.bin; write the
  # encoder-only copy the device loads.
  if [ -f "$PREFIX/models/whisper-base/model.bin" ]; then
    run "$PREFIX/venv/bin/python" -m device.prepare.whisper --out "$PREFIX/models/whisper-base" --quiet
  fi
  # Moonshine (en-US): model_fetch verified the wheel's .ort files; write the ONNX folder the device loads
  # (from the newest moonshine-cpp-* folder; nothing to do when that folder is already current).
  local source="" candidate
  for candidate in "$PREFIX"/models/moonshine-cpp-*/; do
    if [ -f "$candidate/encoder_model.ort" ]; then source=${candidate%/}; fi
  done
  [ -n "$source" ] || return 0
  # Already prepared from these very files (here, or by scripts/provision on the installer's laptop):
  # nothing to do, and no onnx to install for it.
  if [ -x "$PREFIX/venv/bin/python" ] && "$PREFIX/venv/bin/python" -c 'import sys
from pathlib import Path
from device.prepare import moonshine as m
src = Path(sys.argv[1])
sys.exit(0 if m.is_current(Path(sys.argv[2]), {n: m.sha256_of(src / n) for n in m.SOURCE_FILES}, "int8") else 1)' \
    "$source" "$PREFIX/models/moonshine-base-en" 2>/dev/null; then
    note "Moonshine model in $PREFIX/models/moonshine-base-en is current"
    return 0
  fi
  # Rebuilding the graphs needs onnx (the [prepare] extra, hashed like the core): installed for the
  # preparation only, unless --extras prepare keeps it; the device itself never imports it.
  local onnx_for_now=0
  if ! "$PREFIX/venv/bin/python" -c 'import onnx' 2>/dev/null; then
    onnx_for_now=1
    run "$PREFIX/venv/bin/python" -m pip install --disable-pip-version-check --no-cache-dir --require-hashes \
      --no-deps -r "$LOCK_DIR/device-prepare.txt"
  fi
  # Preparing takes about 1.7 GB of memory for a minute: where it fails the install goes on, and the
  # device uses Vosk or pocketsphinx for English (scripts/provision --prepare-model prepares it on the laptop).
  if ! run "$PREFIX/venv/bin/python" -m device.prepare.moonshine --from "$source" \
    --out "$PREFIX/models/moonshine-base-en" --quiet; then
    note "Moonshine was not prepared (see above); English falls back to Vosk or pocketsphinx"
  fi
  if [ "$onnx_for_now" = 1 ]; then
    local added
    mapfile -t added < <(sed -n 's/^\([A-Za-z0-9][A-Za-z0-9._-]*\)==.*/\1/p' "$LOCK_DIR/device-prepare.txt")
    run "$PREFIX/venv/bin/python" -m pip uninstall --disable-pip-version-check --yes --quiet "${added[@]}"
  fi
}

step_service() {
  step service "systemd unit $SYSTEMD_DIR/reorder.service, enabled$([ "$START" = 1 ] && echo " and (re)started")"
  local unit="$SOURCE/firmware_config/reorder.service" dest="$SYSTEMD_DIR/reorder.service" rendered
  [ -f "$unit" ] || die "$unit not found; give --source the project checkout"
  rendered=$(sed -e "s|/opt/reorder|$PREFIX|g" -e "s|/etc/reorder|$CONFIG_DIR|g" \
    -e "s|^User=reorder$|User=$SERVICE_USER|" -e "s|^Group=reorder$|Group=$SERVICE_USER|" "$unit")
  if [ -f "$dest" ] && [ "$(cat "$dest")" = "$rendered" ]; then
    note "unit unchanged"
  elif [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run] write %q from %q (paths %q, %q; user %q)\n' "$dest" "$unit" "$PREFIX" "$CONFIG_DIR" "$SERVICE_USER"
  else
    install -d -m 0755 "$SYSTEMD_DIR"
    printf '%s\n' "$rendered" >"$dest.tmp"
    chmod 0644 "$dest.tmp"
    mv -f "$dest.tmp" "$dest"
  fi
  run systemctl daemon-reload
  run systemctl enable reorder.service
  if [ "$START" = 1 ]; then run systemctl restart reorder.service; fi
}

step_firstboot() {
  step firstboot "remove reorder-firstboot.service (its work is done)"
  run systemctl disable reorder-firstboot.service
  run rm -f "$SYSTEMD_DIR/reorder-firstboot.service"
}

echo "reorder install: prefix $PREFIX, config $CONFIG_DIR, user $SERVICE_USER$([ "$DRY_RUN" = 1 ] && echo ", DRY RUN")"
for name in "${STEPS[@]}"; do
  if selected "$name"; then "step_$name"; fi
done
if [ "$FIRSTBOOT" = 1 ]; then step_firstboot; fi
echo "reorder install: done$([ "$DRY_RUN" = 1 ] && echo " (dry run: nothing was changed)")"
