"""Renderings for people: the matrix (matrix_render), the seal matrix page (seal_html) and SVG badges (badges)."""
