"""SIG keys: ed25519 through securesystemslib's CryptoSigner, stored as two files.

    NAME.key   PKCS8 PEM, encrypted with a passphrase, mode 0600 (never inside a channel directory)
    NAME.pub   JSON: SSlibKey.to_dict() plus "keyid" and "name" (format mwrelease.key/1)

The name travels with the public key into root metadata as the key's unrecognized field
``x-mwrelease-name``: it is not part of the keyid (securesystemslib hashes type, scheme and value only),
so clients can name the members who approved a release.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mwrelease.errors import ConfigError

PUBLIC_FORMAT = "mwrelease.key/1"
NAME_FIELD = "x-mwrelease-name"
PASSPHRASE_ENV = "MWRELEASE_KEY_PASSPHRASE"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

Prompt = Callable[[str], str]


@dataclass(frozen=True, kw_only=True)
class KeyInfo:
    """What `key show` prints about a key file."""

    path: str
    kind: str                      # "public" | "private"
    name: str
    keyid: str | None
    keytype: str | None
    scheme: str | None
    public: str | None
    encrypted: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "name": self.name, "keyid": self.keyid, "keytype": self.keytype,
                "scheme": self.scheme, "public": self.public, "encrypted": self.encrypted}


def channel_root_of(path: Path) -> Path | None:
    """The channel directory that contains ``path`` (a directory with metadata/1.root.json), if any."""
    p = path.resolve()
    for d in (p, *p.parents):
        if (d / "metadata" / "1.root.json").is_file() or (d / "metadata" / "root.json").is_file():
            return d
    return None


def refuse_inside_channel(path: Path, what: str = "A private key") -> None:
    ch = channel_root_of(path)
    if ch is not None:
        raise ConfigError(f"{what} may not be written into the channel directory {ch}: everything there is "
                          "served to the public.", hint="Write it to a directory outside the channel, ideally on "
                          "an offline machine or a removable medium.")


def passphrase_for(label: str, prompt: Prompt | None = None, *, confirm: bool = False) -> str:
    """The passphrase from $MWRELEASE_KEY_PASSPHRASE, else asked for (twice when ``confirm``)."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        return env
    ask = prompt or (lambda text: getpass.getpass(text + ": "))
    first = ask(f"Passphrase for {label}")
    if confirm and ask(f"Repeat the passphrase for {label}") != first:
        raise ConfigError("The two passphrases differ; no key was written.", hint="Run the command again.")
    return first


def generate_key(name: str, out_dir: Path, passphrase: str) -> tuple[Path, Path]:
    """Write NAME.key (encrypted PKCS8 PEM, 0600) and NAME.pub into ``out_dir``; return both paths."""
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

    if not _NAME_RE.match(name):
        raise ConfigError(f"{name!r} is not a usable key name.",
                          hint="Use letters, digits, '.', '_', '@' or '-' (a member's login, e.g. alice).")
    if not passphrase:
        raise ConfigError("An empty passphrase would leave the private key readable by anyone who copies the file.",
                          hint=f"Set ${PASSPHRASE_ENV} or type a passphrase at the prompt.")
    refuse_inside_channel(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    for p in (private_path, public_path):
        if p.exists():
            raise ConfigError(f"{p} already exists; a key is never overwritten.",
                              hint="Choose another name or directory, or remove the old key on purpose.")
    signer = CryptoSigner.generate_ed25519()
    key = signer.public_key
    private_key = serialization.load_pem_private_key(signer.private_bytes, None)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(passphrase.encode()))
    # O_EXCL + 0600 from the start: the file is never readable by others, not even for a moment.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path.write_text(json.dumps(public_dict(key, name), indent=2) + "\n")
    return private_path, public_path


def public_dict(key: Any, name: str) -> dict[str, Any]:
    d = {k: v for k, v in key.to_dict().items() if k != NAME_FIELD}
    return {"format": PUBLIC_FORMAT, "name": name, "keyid": key.keyid, **d}


def _looks_private(raw: bytes) -> bool:
    return b"PRIVATE KEY-----" in raw[:200]


def load_public(path: Path) -> Any:
    """The SSlibKey of a NAME.pub file, its name in unrecognized_fields["x-mwrelease-name"]."""
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    raw = _read(path, "Public key")
    if _looks_private(raw):
        raise ConfigError(f"{path} is a private key, but a public key (NAME.pub) is needed here.",
                          hint="Pass the .pub file beside it; private keys stay with their owner.")
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        fields = {k: v for k, v in data.items() if k not in ("format", "name", "keyid")}
        key = SSlibKey.from_dict(str(data["keyid"]), fields)
        if key.keytype != "ed25519":
            raise ValueError(f"key type {key.keytype!r}")
        name = str(data["name"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not an mwrelease public key file (NAME.pub from `mwrelease key generate`): "
                          f"{exc}.", hint="Ask the key's owner for their .pub file again.") from None
    # The keyid must be what securesystemslib computes from the key itself: a file cannot claim another id.
    expected = SSlibKey(key.keyid, key.keytype, key.scheme, key.keyval)
    from securesystemslib.signer._utils import compute_default_keyid

    if compute_default_keyid(expected.keytype, expected.scheme, expected.keyval) != key.keyid:
        raise ConfigError(f"{path}: its keyid does not match its key value; the file was edited.",
                          hint="Ask the key's owner for their .pub file again.")
    key.unrecognized_fields[NAME_FIELD] = name
    return key


def load_signer(path: Path, passphrase: str | None = None, prompt: Prompt | None = None) -> Any:
    """A securesystemslib CryptoSigner for the private key file NAME.key (NAME.pub beside it gives the name)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

    raw = _read(path, "Private key")
    if not _looks_private(raw):
        looks_public = raw.lstrip().startswith(b"{")
        raise ConfigError(
            f"{path} is {'a public key' if looks_public else 'not a private key'}, but signing needs the private key "
            "(NAME.key from `mwrelease key generate`).",
            hint="Pass the .key file (it never leaves its owner's machine)." if looks_public else
            "Pass the NAME.key file written by `mwrelease key generate`.")
    if passphrase is None:
        passphrase = passphrase_for(f"key {path.name}", prompt)
    try:
        private_key = serialization.load_pem_private_key(raw, passphrase.encode() or None)
    except TypeError:
        raise ConfigError(f"{path} is not encrypted; mwrelease only uses passphrase-protected keys.",
                          hint="Generate a new key with `mwrelease key generate`.") from None
    except ValueError as exc:
        wrong = "password" in str(exc).lower() or "decrypt" in str(exc).lower()
        raise ConfigError(f"Wrong passphrase for the private key {path}." if wrong else
                          f"{path} is a damaged private key file ({exc}).",
                          hint=f"Check ${PASSPHRASE_ENV} (or what you typed) and try again." if wrong else
                          "Restore the key from its backup.") from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an ed25519 key.", hint="Generate one with `mwrelease key generate`.")
    public = SSlibKey.from_crypto(private_key.public_key())
    pub_path = path.with_suffix(".pub")
    name = path.stem
    if pub_path.is_file():
        try:
            name = str(json.loads(pub_path.read_text()).get("name") or name)
        except (ValueError, AttributeError):
            pass
    public.unrecognized_fields[NAME_FIELD] = name
    return CryptoSigner(private_key, public)


def key_name(key: Any) -> str:
    return str(key.unrecognized_fields.get(NAME_FIELD) or key.keyid[:12])


def show(path: Path) -> KeyInfo:
    raw = _read(path, "Key file")
    if _looks_private(raw):
        pub = path.with_suffix(".pub")
        key = load_public(pub) if pub.is_file() else None
        return KeyInfo(path=str(path), kind="private", name=key_name(key) if key else path.stem,
                       keyid=key.keyid if key else None, keytype=key.keytype if key else None,
                       scheme=key.scheme if key else None, public=key.keyval.get("public") if key else None,
                       encrypted=b"ENCRYPTED PRIVATE KEY" in raw[:100])
    key = load_public(path)
    return KeyInfo(path=str(path), kind="public", name=key_name(key), keyid=key.keyid, keytype=key.keytype,
                   scheme=key.scheme, public=str(key.keyval.get("public")))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist.", hint="Check the path.") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory, not a key file.", hint="Check the path.") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}.", hint="Check the path and its permissions.") from None
