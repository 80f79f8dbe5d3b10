"""Generate the entity models of ``buildingminds_async.models`` from the entity catalogue.

Reads ``tests/data/entities.json`` and writes ``_enums.py``, one module per entity and the
generated regions of ``_registry.py``; ``ruff format`` gives the final layout. The output
is committed, so after a catalogue change::

    .venv/bin/python scripts/generate_models.py           # rewrite what changed
    .venv/bin/python scripts/generate_models.py --check   # exit 1 if anything is stale

Rules applied (see REFERENCE.md sections 4 and 7):

- ``required: true`` makes a field required; ``false`` or ``null`` (unknown) optional.
- An enum read from the documentation (``inferred: false``, not ``enum_partial``) is a
  strict ``Literal``; any other enum is lenient (``LenientEnum``: unknown values warn).
- ``format: date-time...`` fields are ``WireDateTime``; ``number`` is int or float,
  ``integer`` is int; ``minimum``/``maximum`` on a string (operational-measurement
  ``extensionData``) is read as its maximum length.
- Entities without fields get the id, a lenient ``eventType`` and ``extensionData``, and
  accept any other field.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "tests" / "data" / "entities.json"
MODELS = ROOT / "buildingminds_async" / "models"
REGISTRY = MODELS / "_registry.py"

GENERATED_NOTE = (
    "Generated from tests/data/entities.json by scripts/generate_models.py: change the "
    "catalogue or the generator and regenerate; do not edit by hand."
)

# One-line summaries for the class docstrings (the catalogue has no entity descriptions).
SUMMARIES: Mapping[str, str] = {
    "address": "A postal location; sites, buildings, lands and rental units point to it.",
    "site": "A top-level location grouping buildings and lands; it needs an address.",
    "building": "A building, the core asset: it belongs to a site and has addresses.",
    "land": "A plot of land (possibly partly water) belonging to a site.",
    "floor": "A storey of a building, grouping its spaces.",
    "space": "A bounded area with a function inside a floor: the smallest physical unit.",
    "rental-unit": "The part of a structure let to a third party.",
    "area-measurement": "An area figure, by standard and type, of a site, building, floor, "
    "space, rental unit or land.",
    "operational-measurement": "An aggregated consumption value of a building (energy, "
    "water, waste or fugitive emissions).",
    "rental-contract": "A rental contract over rental units.",
    "rental-payment": "A payment due under a rental contract.",
    "rental-option": "An option granted by a rental contract.",
    "certificate": "A sustainability certificate of a building (LEED, BREEAM, DGNB...).",
    "valuation": "A valuation of a building.",
    "energy-rating": "An energy rating, referenced by sites, buildings, floors, spaces and "
    "rental units.",
    "meter": "A meter of a building or a rental unit.",
    "resource-consumption": "Raw readings of a meter.",
}

# Notes that only restate what the generated type already says.
REDUNDANT_NOTES = (
    "minLength/maxLength apply to each id string",
    'docs type column says "json"',
)

DATE_TIME = "date-time"
ID_LENGTHS = (1, 50)


@dataclass(frozen=True)
class EnumDef:
    """An enum field of the catalogue, as one type alias of ``_enums.py``."""

    entity: str
    field: str
    values: tuple[str, ...]
    strict: bool
    min_length: int | None
    max_length: int | None
    note: str

    @property
    def type_name(self) -> str:
        return pascal(self.entity) + pascal(self.field)


@dataclass(frozen=True)
class FieldDef:
    wire: str
    spec: Mapping[str, Any]
    enum: EnumDef | None

    @property
    def attribute(self) -> str:
        return snake(self.wire)

    @property
    def required(self) -> bool:
        return self.spec.get("required") is True


@dataclass(frozen=True)
class EntityDef:
    name: str
    spec: Mapping[str, Any]
    fields: tuple[FieldDef, ...]
    level: int

    @property
    def class_name(self) -> str:
        return pascal(self.name)

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def schemaless(self) -> bool:
        return not self.spec["fields"]

    @property
    def documented(self) -> bool:
        return not self.spec.get("path_inferred", False)

    @property
    def event_types(self) -> tuple[str, ...]:
        for field in self.fields:
            if field.wire == "eventType" and field.enum is not None:
                return field.enum.values
        return ()


def pascal(name: str) -> str:
    """``rental-unit`` -> ``RentalUnit``; ``eventType`` -> ``EventType``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ ]", name))


def snake(name: str) -> str:
    """``effectZonesBentilation`` -> ``effect_zones_bentilation``."""
    attribute = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    if keyword.iskeyword(attribute) or attribute.startswith("model_"):
        raise SystemExit(f"field {name!r} has no usable Python name; extend snake()")
    return attribute


def camel_words(name: str) -> list[str]:
    return re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)


def sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def levels(catalogue: Mapping[str, Any]) -> dict[str, int]:
    """Level of each entity: its position in ``dependency_order`` ("a/b" share one)."""
    return {
        name: level
        for level, entry in enumerate(catalogue["dependency_order"])
        for name in entry.split("/")
    }


def is_strict(field: Mapping[str, Any]) -> bool:
    return not field.get("inferred", False) and not field.get("enum_partial", False)


def load(catalogue: Mapping[str, Any]) -> list[EntityDef]:
    level_of = levels(catalogue)
    entities = []
    for name, spec in catalogue["entities"].items():
        raw_fields = spec["fields"] or schemaless_fields(name, spec["id_field"])
        fields = tuple(
            FieldDef(wire=field["name"], spec=field, enum=enum_of(name, field))
            for field in raw_fields
        )
        entities.append(EntityDef(name=name, spec=spec, fields=fields, level=level_of[name]))
    missing = {entity.name for entity in entities} - level_of.keys()
    if missing:
        raise SystemExit(f"dependency_order does not place {sorted(missing)}")
    push_order = [name for entry in catalogue["dependency_order"] for name in entry.split("/")]
    return sorted(entities, key=lambda entity: push_order.index(entity.name))


def schemaless_fields(entity: str, id_field: str) -> list[dict[str, Any]]:
    prefix = pascal(entity)
    return [
        {
            "name": id_field,
            "type": "string",
            "required": True,
            "minLength": 1,
            "maxLength": 50,
            "description": f"external id of the {entity.replace('-', ' ')}",
        },
        {
            "name": "eventType",
            "type": "string",
            "required": False,
            "enum": [f"{prefix}Added", f"{prefix}Updated", f"{prefix}Deleted"],
            "inferred": True,
            "description": "domain event: add / update / delete the record",
        },
        {
            "name": "extensionData",
            "type": "object",
            "required": False,
            "description": "free-form JSON for custom data",
        },
    ]


def enum_of(entity: str, field: Mapping[str, Any]) -> EnumDef | None:
    values = tuple(field.get("enum") or ())
    if not values:
        return None
    strict = is_strict(field)
    min_length, max_length = field.get("minLength"), field.get("maxLength")
    if strict:
        too_long = [v for v in values if max_length is not None and len(v) > max_length]
        if too_long:
            raise SystemExit(f"{entity}.{field['name']}: values longer than allowed: {too_long}")
    if field.get("enum_partial"):
        reason = "the documented list is cut off"
    elif strict:
        reason = ""
    else:
        reason = "the list is inferred"
    return EnumDef(
        entity=entity,
        field=field["name"],
        values=values,
        strict=strict,
        min_length=min_length,
        max_length=max_length,
        note=reason,
    )


# --------------------------------------------------------------------------- rendering


def docstring(text: str, indent: str = "") -> str:
    """A docstring of paragraphs separated by blank lines, wrapped at the line length."""
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    width = 96 - len(indent)
    lines: list[str] = []
    for number, paragraph in enumerate(paragraphs):
        if number:
            lines.append("")
        lines.extend(textwrap.wrap(" ".join(paragraph.split()), width=width) or [""])
    if len(lines) == 1 and len(lines[0]) + len(indent) + 6 <= 100:
        return f'{indent}"""{lines[0]}"""\n'
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines)
    return f'{indent}"""{body.lstrip()}\n{indent}"""\n'


def py_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_enums(entities: Iterable[EntityDef]) -> str:
    enums = [f.enum for e in entities for f in e.fields if f.enum is not None]
    shared = shared_value_lists(enums)
    out = [
        docstring(
            "Enumerations of the BuildingMinds entity catalogue.\n\n"
            "Enums read from the BuildingMinds documentation are ``Literal`` types: any "
            "other value is rejected. Enums inferred from the IBPDI data model or documented "
            "with a cut-off list are strings marked :class:`LenientEnum`: another value is "
            "accepted with an ``UnknownEnumValueWarning``, because the real list is longer.\n\n"
            + GENERATED_NOTE
        ),
        "\nfrom typing import Annotated, Literal\n\n",
        "from pydantic import StringConstraints\n\n",
        "from ._base import LenientEnum\n\n",
    ]
    names = sorted(enum.type_name for enum in enums)
    out.append("__all__ = [\n" + "".join(f"    {py_str(n)},\n" for n in names) + "]\n\n")
    for constant, values in shared.items():
        users = " and ".join(
            f"{e.entity}.{e.field}" for e in enums if not e.strict and e.values == values
        )
        out.append(f"# Known values shared by {users}.\n")
        out.append(f"{constant} = {tuple_literal(values)}\n\n")
    for enum in enums:
        out.append(render_enum(enum, shared))
    return "".join(out)


def shared_value_lists(enums: list[EnumDef]) -> dict[str, tuple[str, ...]]:
    """Name the value lists used by more than one lenient enum, e.g. ``_TYPE_OF_BUILDING``."""
    users: dict[tuple[str, ...], list[EnumDef]] = {}
    for enum in enums:
        if not enum.strict:
            users.setdefault(enum.values, []).append(enum)
    shared = {}
    for values, enums_with_values in users.items():
        if len(enums_with_values) < 2:
            continue
        words = [camel_words(enum.field) for enum in enums_with_values]
        suffix: list[str] = []
        while (
            all(len(w) > len(suffix) for w in words)
            and len({w[-len(suffix) - 1].lower() for w in words}) == 1
        ):
            suffix.insert(0, words[0][-len(suffix) - 1])
        stem = suffix or camel_words(enums_with_values[0].field)
        shared["_" + "_".join(word.upper() for word in stem)] = values
    return shared


def render_enum(enum: EnumDef, shared: Mapping[str, tuple[str, ...]]) -> str:
    where = f"``{enum.entity}.{enum.field}``"
    if enum.strict:
        body = ", ".join(py_str(v) for v in enum.values)
        doc = f"Values of {where}, as documented; any other value is rejected."
        return f"{enum.type_name} = Literal[{body}]\n" + docstring(doc) + "\n"
    constant = next((name for name, values in shared.items() if values == enum.values), None)
    values = constant or tuple_literal(enum.values)
    parts = ["str"]
    if enum.min_length is not None or enum.max_length is not None:
        lengths = []
        if enum.min_length is not None:
            lengths.append(f"min_length={enum.min_length}")
        if enum.max_length is not None:
            lengths.append(f"max_length={enum.max_length}")
        parts.append(f"StringConstraints({', '.join(lengths)})")
    parts.append(f"LenientEnum({py_str(enum.entity)}, {py_str(enum.field)}, {values})")
    doc = f"Known values of {where}; another value is accepted with a warning ({enum.note})."
    return f"{enum.type_name} = Annotated[{', '.join(parts)}]\n" + docstring(doc) + "\n"


@dataclass
class Imports:
    typing: set[str]
    pydantic: set[str]
    base: set[str]
    enums: set[str]

    def render(self) -> str:
        lines = []
        if self.typing:
            lines.append(f"from typing import {', '.join(sorted(self.typing))}\n\n")
        if self.pydantic:
            lines.append(f"from pydantic import {', '.join(sorted(self.pydantic))}\n\n")
        lines.append(f"from ._base import {', '.join(sorted(self.base))}\n")
        if self.enums:
            lines.append(f"from ._enums import {', '.join(sorted(self.enums))}\n")
        return "".join(lines)


def field_annotation(field: FieldDef, imports: Imports) -> tuple[str, list[str]]:
    """The annotation (without ``| None``) and the ``Field()`` constraints of a field."""
    spec = field.spec
    kind = spec["type"]
    lengths = (spec.get("minLength"), spec.get("maxLength"))
    constraints: list[str] = []
    if field.enum is not None:
        imports.enums.add(field.enum.type_name)
        annotation = field.enum.type_name
        if kind == "array<string>":
            annotation = f"list[{annotation}]"
    elif (spec.get("format") or "").startswith(DATE_TIME):
        imports.base.add("WireDateTime")
        annotation = "WireDateTime"
    elif kind == "array<string>":
        if lengths == ID_LENGTHS:
            imports.base.add("ExternalId")
            annotation = "list[ExternalId]"
        else:
            imports.typing.add("Annotated")
            imports.pydantic.add("StringConstraints")
            annotation = f"list[Annotated[str, StringConstraints({length_args(*lengths)})]]"
    elif kind == "string":
        if spec.get("maximum") is not None:  # the catalogue's "maximum" of a string
            lengths = (spec.get("minLength"), spec["maximum"])
        if lengths == ID_LENGTHS and field.wire.endswith("Id"):
            imports.base.add("ExternalId")
            annotation = "ExternalId"
        else:
            annotation = "str"
            constraints.extend(length_args(*lengths).split(", ") if any(lengths) else [])
    elif kind == "number":
        bounds = (spec.get("minimum"), spec.get("maximum"))
        if bounds == (None, None):
            imports.base.add("Number")
            annotation = "Number"
        else:
            imports.typing.add("Annotated")
            imports.base.add("NumberRange")
            args = [f"{k}={v}" for k, v in zip(("ge", "le"), bounds, strict=True) if v is not None]
            annotation = f"Annotated[int | float, NumberRange({', '.join(args)})]"
    elif kind == "integer":
        annotation = "int"
        for key, arg in (("minimum", "ge"), ("maximum", "le")):
            if spec.get(key) is not None:
                constraints.append(f"{arg}={spec[key]}")
    elif kind == "boolean":
        annotation = "bool"
    elif kind == "object":
        imports.typing.add("Any")
        annotation = "dict[str, Any]"
    else:
        raise SystemExit(f"unsupported type {kind!r} of field {field.wire!r}")
    if kind == "array<string>" and field.required:
        constraints.append("min_length=1")
    return annotation, constraints


def length_args(min_length: int | None, max_length: int | None) -> str:
    args = []
    if min_length is not None:
        args.append(f"min_length={min_length}")
    if max_length is not None:
        args.append(f"max_length={max_length}")
    return ", ".join(args)


def field_doc(field: FieldDef) -> str:
    spec = field.spec
    text = sentence(spec.get("description") or field.wire)
    target = spec.get("references")
    if target:
        what = "ids" if spec["type"].startswith("array") else "id"
        text = text[:-1] + f" (``{target}`` external {what})."
    note = spec.get("note")
    if note and not note.startswith(REDUNDANT_NOTES):
        text += "\n\n" + sentence(note)
    return text


def entity_doc(entity: EntityDef, names: Mapping[str, EntityDef]) -> str:
    spec = entity.spec
    paragraphs = [SUMMARIES.get(entity.name, f"A {entity.name.replace('-', ' ')} record.")]
    path = f"``POST {spec['path']}``" + ("" if entity.documented else " (path inferred)")
    parents = [f"``{names[p].class_name}``" for p in spec["depends_on"]]
    facts = f"Pushed with {path}; external id ``{spec['id_field']}``."
    if parents:
        any_of = spec["depends_on_mode"] == "any_of" and len(parents) > 1
        last = (" or " if any_of else " and ") + parents[-1] if len(parents) > 1 else parents[-1]
        joined = ", ".join(parents[:-1]) + last
        facts += f" Depends on {'any one of ' if any_of else ''}{joined}."
    if spec.get("delete_supported") is False:
        facts += " It cannot be deleted through the API."
    elif spec.get("delete_supported"):
        facts += f" ``eventType`` ``{entity.class_name}Deleted`` deletes it."
    paragraphs.append(facts)
    if entity.schemaless:
        paragraphs.append(
            "No schema of this entity is published: only the external id, ``eventType`` and "
            "``extensionData`` are declared, and any other field is accepted and sent as "
            "given."
        )
    elif not entity.documented:
        paragraphs.append(
            "No BuildingMinds page documents this entity: its fields are the IBPDI CDM v2.0 "
            "structure, a best guess."
        )
    else:
        borrowed = [f.wire for f in entity.fields if f.spec.get("source", "bm-docs") != "bm-docs"]
        if borrowed:
            paragraphs.append(
                "Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0: "
                + ", ".join(f"``{wire}``" for wire in borrowed)
                + "."
            )
    paragraphs.append(f"Catalogue note: {sentence(spec['notes'])}")
    return "\n\n".join(paragraphs)


def render_entity(entity: EntityDef, names: Mapping[str, EntityDef]) -> str:
    imports = Imports(typing={"ClassVar"}, pydantic=set(), base={"EntityModel"}, enums=set())
    body: list[str] = []
    for field in entity.fields:
        annotation, constraints = field_annotation(field, imports)
        arguments = list(constraints)
        if field.attribute != field.wire:
            arguments.insert(0, f"alias={py_str(field.wire)}")
        if not field.required:
            annotation += " | None"
            arguments.insert(0, "default=None")
        if arguments == ["default=None"]:
            line = f"    {field.attribute}: {annotation} = None\n"
        elif arguments:
            imports.pydantic.add("Field")
            line = f"    {field.attribute}: {annotation} = Field({', '.join(arguments)})\n"
        else:
            line = f"    {field.attribute}: {annotation}\n"
        body.append(line + docstring(field_doc(field), indent="    "))
    header = [
        f"    ENTITY: ClassVar[str] = {py_str(entity.name)}\n",
        f"    ID_FIELD: ClassVar[str] = {py_str(entity.spec['id_field'])}\n\n",
    ]
    if entity.schemaless:
        imports.pydantic.add("ConfigDict")
        header.insert(
            0,
            "    # No published schema: fields beyond the declared ones are sent as given.\n"
            '    model_config = ConfigDict(extra="allow")\n\n',
        )
    module_doc = (
        f"The ``{entity.name}`` entity (``POST {entity.spec['path']}``).\n\n{GENERATED_NOTE}"
    )
    return (
        docstring(module_doc)
        + "\n"
        + imports.render()
        + f"\n__all__ = [{py_str(entity.class_name)}]\n\n\n"
        + f"class {entity.class_name}(EntityModel):\n"
        + docstring(entity_doc(entity, names), indent="    ")
        + "\n"
        + "".join(header)
        + "\n".join(body)
    )


def render_registry_imports(entities: Iterable[EntityDef]) -> str:
    modules = sorted(entities, key=lambda entity: entity.module)
    # The blank line keeps isort content: the region's end marker is not an import.
    return "".join(f"from .{e.module} import {e.class_name}\n" for e in modules) + "\n"


def render_registry_table(entities: list[EntityDef]) -> str:
    names = ", ".join(py_str(e.name) for e in entities)
    out = [f"EntityName = Literal[{names}]\n", '"""API name of an entity."""\n\n']
    out.append("_SPECS: Final[tuple[EntitySpec, ...]] = (\n")
    for entity in entities:
        spec = entity.spec
        parents = tuple(spec["depends_on"])
        parent_fields = tuple(
            (field.wire, field.spec["references"])
            for field in entity.fields
            if field.spec.get("references") in parents
        )
        out.append(
            "    EntitySpec(\n"
            f"        name={py_str(entity.name)},\n"
            f"        path={py_str(spec['path'])},\n"
            f"        model={entity.class_name},\n"
            f"        id_field={py_str(spec['id_field'])},\n"
            f"        event_prefix={py_str(entity.class_name)},\n"
            f"        event_types={tuple_literal(entity.event_types)},\n"
            f"        parents={tuple_literal(parents)},\n"
            f"        depends_mode={py_str(spec['depends_on_mode'])},\n"
            f"        parent_fields={tuple_literal(parent_fields)},\n"
            f"        level={entity.level},\n"
            f"        delete_supported={spec.get('delete_supported')!r},\n"
            f"        documented={entity.documented!r},\n"
            "    ),\n"
        )
    out.append(")\n")
    return "".join(out)


def tuple_literal(items: Iterable[Any]) -> str:
    """Python source of a tuple of strings (or of such tuples), e.g. ``("a",)``."""
    rendered = [tuple_literal(i) if isinstance(i, tuple) else py_str(i) for i in items]
    if len(rendered) == 1:
        return f"({rendered[0]},)"
    return "(" + ", ".join(rendered) + ")"


def render_package(catalogue: Mapping[str, Any]) -> dict[Path, str]:
    entities = load(catalogue)
    names = {entity.name: entity for entity in entities}
    files = {MODELS / "_enums.py": render_enums(entities)}
    for entity in entities:
        files[MODELS / f"{entity.module}.py"] = render_entity(entity, names)
    registry = REGISTRY.read_text(encoding="utf-8")
    registry = replace_region(registry, "models", render_registry_imports(entities))
    registry = replace_region(registry, "entity table", render_registry_table(entities))
    files[REGISTRY] = registry
    return files


def replace_region(text: str, region: str, content: str) -> str:
    begin = f"# region generated: {region}\n"
    end = "# endregion\n"
    start = text.index(begin) + len(begin)
    stop = text.index(end, start)
    return text[:start] + content + text[stop:]


# --------------------------------------------------------------------------- output


def ruff_format(path: Path, source: str) -> str:
    """``ruff format`` of ``source`` as if it were ``path`` (the project's settings apply)."""
    command = [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"]
    # Fixed arguments, no shell: the only input is the generated source on stdin.
    result = subprocess.run(  # noqa: S603
        command, input=source, capture_output=True, text=True, cwd=ROOT, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"ruff format failed on {path}:\n{result.stderr}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a generated file is out of date"
    )
    args = parser.parse_args(argv)
    catalogue = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    stale = []
    for path, source in render_package(catalogue).items():
        formatted = ruff_format(path, source)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if formatted == current:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.write_text(formatted, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{verb}: {path}")  # noqa: T201
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
