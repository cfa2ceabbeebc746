"""What each loaded component's extension.json/skin.json says, read inside the container from the tree
really in place (``ComponentManifest``): its version, ResourceLoader modules, namespaces and classes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mwrelease.lock import LockedComponent
from mwrelease.runner import mediawiki as mw
from mwrelease.runner.engine import Container
from mwrelease.runner.logs import ComponentManifest

MANIFEST_PHP = r"""<?php
function mwr_classes($node) {
    $found = [];
    if (is_array($node)) {
        foreach ($node as $k => $v) {
            if ($k === 'class' && is_string($v)) { $found[] = ltrim($v, '\\'); }
            $found = array_merge($found, mwr_classes($v));
        }
    }
    return array_values(array_unique($found));
}
$ip = $argv[1]; $out = [];
for ($i = 2; $i + 1 < $argc; $i += 2) {
    [$name, $kind] = [$argv[$i], $argv[$i + 1]];
    $file = $kind === 'skin' ? "$ip/skins/$name/skin.json" : "$ip/extensions/$name/extension.json";
    if (!is_file($file)) { $out[$name] = ['present' => false]; continue; }
    $data = json_decode(file_get_contents($file), true);
    if (!is_array($data)) { $out[$name] = ['present' => true, 'error' => json_last_error_msg()]; continue; }
    $out[$name] = ['present' => true, 'name' => $data['name'] ?? $name, 'version' => $data['version'] ?? null,
                   'modules' => array_keys($data['ResourceModules'] ?? []),
                   'namespaces' => array_keys($data['AutoloadNamespaces'] ?? []),
                   'classes' => array_keys($data['AutoloadClasses'] ?? []),
                   'referenced' => mwr_classes($data)];
}
echo json_encode($out, JSON_UNESCAPED_SLASHES);
"""


def read_manifests(container: Container, wiki: mw.Wiki, comps: Sequence[LockedComponent]) -> dict[str, ComponentManifest]:
    # php -r: the script as an argument, not a file copied in first (one exec instead of two).
    args = ["php", "-r", MANIFEST_PHP.removeprefix("<?php\n"), "--", wiki.path]
    for c in comps:
        args += [c.name, c.kind]
    r = container.exec(args, timeout=60, quiet=True).check()
    data: dict[str, Any] = json.loads(r.stdout)
    out = {}
    for c in comps:
        d = data.get(c.name) or {}
        out[c.name] = ComponentManifest(name=c.name, kind=c.kind, present=bool(d.get("present")),
                               display_name=str(d.get("name") or c.name),
                               version=None if d.get("version") is None else str(d["version"]),
                               modules=tuple(str(m) for m in d.get("modules") or ()),
                               namespaces=tuple(str(m) for m in d.get("namespaces") or ()),
                               classes=tuple(str(m) for m in d.get("classes") or ()),
                               referenced=tuple(str(m) for m in d.get("referenced") or ()), error=d.get("error"))
    return out
