"""What counts as source code in a repository tree (shared by code_quality and reviewedness)."""

from __future__ import annotations

CODE_EXT = (
    ".py",
    ".pyx",
    ".js",
    ".mjs",
    ".ts",
    ".tsx",
    ".jsx",
    ".go",
    ".rs",
    ".java",
    ".c",
    ".cc",
    ".cpp",
    ".cxx",
    ".h",
    ".hpp",
    ".cu",
    ".cuh",
    ".jl",
    ".rb",
    ".scala",
    ".kt",
    ".swift",
    ".lua",
    ".r",
    ".m",
    ".mm",
    ".sh",
    ".bash",
    ".php",
    ".cs",
    ".sql",
    ".pl",
    ".proto",
    ".zig",
    ".dart",
)


def is_code(path: str) -> bool:
    return path.lower().endswith(CODE_EXT)
