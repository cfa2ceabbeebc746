"""The only part of mwrelease that touches a container engine: engine wrapper, images, MediaWiki in containers."""
