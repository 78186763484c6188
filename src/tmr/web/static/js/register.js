// Register by URL, and upload a zip with a progress bar.
import { api, uploadWithProgress } from "./api.js";
import {
  announce, bytes, clear, clearFieldError, field, h, pageHead, selectField, setBusy, showFieldError,
} from "./ui.js";

const TYPES = [["model", "Model"], ["dataset", "Dataset"], ["code", "Code"]];

function created(result, artifact) {
  const m = artifact.metadata || artifact;
  clear(result).append(h("div", { class: "ok-box", role: "status" },
    h("strong", {}, `Registered ${m.name}. `),
    h("a", { href: `#/artifact/${m.type}/${m.id}` }, `Open ${m.name}`)));
  announce(`Registered ${m.name}.`);
  result.querySelector("a").focus();
}

export async function render(root) {
  const type = selectField({ label: "Type", name: "type", options: TYPES, value: "model" });
  const url = field({ label: "Source URL", name: "url", type: "url", required: true, grow: true,
    hint: "A Hugging Face model or dataset page, or a GitHub repository.",
    attrs: { placeholder: "https://huggingface.co/owner/model", autocomplete: "url" } });
  const name = field({ label: "Name (optional)", name: "name", hint: "Defaults to the name at the source." });
  const submit = h("button", { type: "submit" }, "Register");
  const progress = h("div", { class: "progress" });
  const result = h("div", {});
  const form = h("form", { novalidate: true },
    h("div", { class: "row" }, type.wrap, url.wrap), h("div", { class: "row" }, name.wrap),
    h("div", { class: "actions" }, submit), progress, result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFieldError(url);
    clear(result);
    const value = url.input.value.trim();
    if (!/^https?:\/\/\S+$/i.test(value)) return showFieldError(url, { message: "Enter an http(s) URL of a model, dataset or code repository." });
    setBusy(submit, true, "Registering…");
    progress.append(h("p", {}, "Fetching from the source and rating it; this takes a few seconds…"),
      h("progress", { "aria-label": "Registering" }));
    announce("Registering; this takes a few seconds.");
    try {
      const body = { url: value };
      if (name.input.value.trim()) body.name = name.input.value.trim();
      const artifact = await api.post(`/artifact/${type.select.value}`, body);
      created(result, artifact);
      url.input.value = "";
      name.input.value = "";
    } catch (err) {
      showFieldError(url, err);
    } finally {
      clear(progress);
      setBusy(submit, false);
    }
    return undefined;
  });
  root.append(pageHead("Register by URL"),
    h("div", { class: "card" }, h("p", { class: "muted" }, "The registry fetches the repository’s metadata, rates it and stores its small files; large files are fetched on first download."), form));
}

export async function renderUpload(root) {
  const type = selectField({ label: "Type", name: "type", options: TYPES, value: "model" });
  const file = field({ label: "Zip file", name: "file", type: "file", required: true, grow: true,
    hint: "A zip laid out like a Hugging Face repository (README.md, config.json, weights…).", attrs: { accept: ".zip,application/zip" } });
  const name = field({ label: "Name (optional)", name: "name", hint: "Defaults to the zip’s name." });
  const submit = h("button", { type: "submit" }, "Upload");
  const progress = h("div", { class: "progress" });
  const result = h("div", {});
  const form = h("form", { novalidate: true },
    h("div", { class: "row" }, type.wrap, file.wrap), h("div", { class: "row" }, name.wrap),
    h("div", { class: "actions" }, submit), progress, result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFieldError(file);
    clear(result);
    const chosen = file.input.files[0];
    if (!chosen) return showFieldError(file, { message: "Choose a zip file to upload." });
    const data = new FormData();
    data.append("file", chosen);
    if (name.input.value.trim()) data.append("name", name.input.value.trim());
    const bar = h("progress", { max: chosen.size || 1, value: 0, "aria-label": "Upload progress" });
    const label = h("p", {}, `Uploading ${chosen.name} (${bytes(chosen.size)})…`);
    progress.append(label, bar);
    setBusy(submit, true, "Uploading…");
    announce("Upload started.");
    try {
      const artifact = await uploadWithProgress(`/artifact/${type.select.value}/upload`, data, (sent, total) => {
        bar.max = total || chosen.size || 1;
        bar.value = sent;
        if (sent >= bar.max) label.textContent = "Uploaded; unpacking and rating…";
      });
      created(result, artifact);
      file.input.value = "";
    } catch (err) {
      showFieldError(file, err);
    } finally {
      clear(progress);
      setBusy(submit, false);
    }
    return undefined;
  });
  root.append(pageHead("Upload a zip"), h("div", { class: "card" }, form));
}

export { api };
