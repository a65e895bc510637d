"""Tiny helpers to build SVG/HTML with ElementTree (escaping and number formatting in one place)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"


def el(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    """A child element; keyword names map to attributes: class_ -> class, data_host -> data-host."""
    node = ET.SubElement(parent, tag, {_name(k): fmt(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        node.text = text
    return node


def root(tag: str, text: str | None = None, **attrs) -> ET.Element:
    node = ET.Element(tag, {_name(k): fmt(v) for k, v in attrs.items() if v is not None})
    node.text = text
    return node


def svg_root(width: float, height: float, css_class: str, style: str = "") -> ET.Element:
    svg = root("svg", xmlns=SVG_NS, class_=css_class, width=float(width), height=float(height),
               viewBox=f"0 0 {width:g} {height:g}")
    if style:
        el(svg, "style", style)
    return svg


def to_string(node: ET.Element) -> str:
    return ET.tostring(node, encoding="unicode", method="html" if node.tag != "svg" else "xml")


def fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _name(key: str) -> str:
    return key.rstrip("_").replace("_", "-")
