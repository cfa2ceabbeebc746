"""The half of the checks that needs no container (runner.logs): log parsing, blame, ResourceLoader error detection."""

from __future__ import annotations

from mwrelease.runner.logs import (CHANNEL_LOGS, PHP_ERROR_LOG, Blamer, ComponentManifest, log_entries, php_error_checks,
                                   rl_problem)
from mwrelease.runner.mediawiki import SERVER_LOG

NAMES = ("Cite", "MinervaNeue", "Scribunto", "ImageMap")
MANIFESTS = {
    "MinervaNeue": ComponentManifest(name="MinervaNeue", kind="skin", present=True, namespaces=("MediaWiki\\Minerva\\",)),
    "ImageMap": ComponentManifest(name="ImageMap", kind="extension", present=True,
                         namespaces=("MediaWiki\\Extension\\ImageMap\\",)),
    "Cite": ComponentManifest(name="Cite", kind="extension", present=True, classes=("CiteLegacy",)),
}
BLAMER = Blamer(NAMES, MANIFESTS)

MINERVA = """[1c78] /load.php?modules=startup   TypeError: MediaWiki\\Minerva\\Hooks::onResourceLoaderRegisterModules(): Argument #1 ($resourceLoader) must be of type ResourceLoader, called in /usr/share/mediawiki/includes/HookContainer/HookContainer.php on line 159
#0 /usr/share/mediawiki/includes/HookContainer/HookContainer.php(159): MediaWiki\\Minerva\\Hooks::onResourceLoaderRegisterModules()
#1 /usr/share/mediawiki/includes/ResourceLoader/HookRunner.php(55): MediaWiki\\HookContainer\\HookContainer->run()"""

SCRIBUNTO = """[f04f] /api.php   Error: Class "Hooks" not found
#0 /var/lib/mediawiki/extensions/Scribunto/includes/engines/LuaCommon/LuaEngine.php(562): MediaWiki\\Extension\\Scribunto\\ScribuntoEngineBase->getLibraryPaths()
#1 /var/lib/mediawiki/extensions/Cite/src/Hooks/CiteParserHooks.php(58): X->y()"""

IMAGEMAP = """[5c02] /api.php   Error: Call to undefined method MediaWiki\\Config\\ConfigFactory::getDefaultInstance()
#0 [internal function]: MediaWiki\\Extension\\ImageMap\\ImageMap->render()
#1 /usr/share/mediawiki/includes/parser/Parser.php(4012): call_user_func_array()"""


def test_blame_is_the_proximate_component() -> None:
    assert BLAMER.culprit(MINERVA) == "MinervaNeue"  # by namespace: no frame is in Minerva's tree
    assert BLAMER.culprit(SCRIBUNTO) == "Scribunto"  # innermost frame, not Cite further out
    assert BLAMER.culprit(IMAGEMAP) == "ImageMap"  # "[internal function]" frames count too
    assert BLAMER.culprit("PHP Fatal error: x in /var/lib/mediawiki/extensions/Cite/a.php on line 3") == "Cite"
    assert BLAMER.culprit("from /usr/share/mediawiki/skins/MinervaNeue/includes/Hooks.php(65)") == "MinervaNeue"
    assert BLAMER.culprit("PHP Deprecated: Use of X [Called from CiteLegacy::run]") == "Cite"
    assert BLAMER.culprit("#0 /usr/share/mediawiki/extensions/Unknown/x.php(1): f()") is None
    assert BLAMER.culprit("nothing here") is None


def test_log_entries_group_traces_and_classify() -> None:
    logs = {
        CHANNEL_LOGS["exception"]: "2026-11-22 my_wiki: " + SCRIBUNTO + "\n",
        PHP_ERROR_LOG: "[22-Nov-2026] PHP Warning:  Undefined array key \"x\" in /var/lib/mediawiki/extensions/Cite/a.php on line 3\n"
                       "[22-Nov-2026] PHP Deprecated:  strlen(): Passing null in /usr/share/mediawiki/includes/x.php on line 9\n"
                       "[22-Nov-2026] PHP Notice:  Something in /usr/share/mediawiki/includes/y.php on line 1\n",
        SERVER_LOG: "[1] [Sun] PHP 8.4.24 Development Server (http://127.0.0.1:8080) started\n"
                    "[1] [Sun] 127.0.0.1:3 [200]: GET /api.php\n",
    }
    entries = log_entries(logs)
    assert [e.level for e in entries] == ["fatal", "warning", "deprecated", "warning"]
    assert entries[0].text.count("\n") == 2  # message + two frames
    main, core, dep = php_error_checks(entries, BLAMER)
    assert main.status == "failed" and main.blame == ("Cite", "Scribunto") and main.required
    assert "1 fatal" in main.message and "1 warning(s) from the bundle" in main.message
    assert core.status == "failed" and not core.required and "y.php" in core.log
    assert dep.status == "failed" and not dep.required


def test_clean_logs_pass() -> None:
    main, core, dep = php_error_checks([], BLAMER)
    assert (main.status, core.status, dep.status) == ("passed", "passed", "passed")


def test_resourceloader_problem_detection() -> None:
    assert rl_problem('mw.loader.impl(...);\nmw.loader.state({"ext.a":"ready"});') is None
    assert rl_problem('mw.loader.state({"ext.a":"error","ext.b":"ready"});') is not None
    assert rl_problem("/*\n[abc] Exception: boom\n*/\nmw.loader.state({});") is not None
    assert rl_problem("/* a licence comment */\nvar x;") is None


def test_blame_removed_class_and_module_files() -> None:
    manifests = {
        "MonoBook": ComponentManifest(name="MonoBook", kind="skin", present=True, referenced=("ResourceLoaderSkinModule",)),
        "InputBox": ComponentManifest(name="InputBox", kind="extension", present=True, modules=("ext.inputBox.styles",)),
    }
    b = Blamer(("MonoBook", "InputBox"), manifests)
    assert b.culprit('[x] /load.php?modules=startup   Error: Class "ResourceLoaderSkinModule" not found\n'
                     "#0 /usr/share/mediawiki/includes/ResourceLoader/ResourceLoader.php(452): X->getModule()") == "MonoBook"
    assert b.culprit("Less_Exception_Parser: File `mediawiki.ui/variables.less` not found. in ext.inputBox.styles.less "
                     "on line 3") == "InputBox"
    assert b.culprit("Class &quot;ResourceLoaderSkinModule&quot; not found") == "MonoBook"  # from HTML pages


def test_isolated_default_blame_is_not_used_for_warnings() -> None:
    b = Blamer(("Poem",), {}, default="Poem")
    assert b.culprit("Error: something in core") == "Poem"
    entries = log_entries({PHP_ERROR_LOG: "[x] PHP Warning:  core thing in /usr/share/mediawiki/includes/a.php on line 1\n"})
    main, core, _ = php_error_checks(entries, b)
    assert main.status == "passed" and core.status == "failed"


def test_dedupe_ignores_log_prefixes() -> None:
    from mwrelease.runner.logs import LogEntry, dedupe

    es = [LogEntry(file="x", level="deprecated", text=f"2026-11-22 02:2{i} host my_wiki: [{i:024x}] /api.php?x={i}   "
                   "PHP Deprecated: Use of A::b was deprecated") for i in range(3)]
    es.append(LogEntry(file="y", level="deprecated", text="[22-Nov] PHP Deprecated:  Use of A::b was deprecated"))
    assert len(dedupe(es)) == 1
