"""The "Verify a claim" tab: a claim, its verdict and the quotations it rests on."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr


@dataclass
class VerifyTab:
    claim: gr.Textbox
    check: gr.Button
    verdict: gr.HTML
    json: gr.JSON


def build_verify_tab() -> VerifyTab:
    with gr.Tab("Verify a claim"):
        claim = gr.Textbox(label="Claim", placeholder="e.g. The sovnarkhoz reform was adopted in 1957.", elem_id="claim")
        check = gr.Button("Check", variant="primary", elem_id="verify")
        verdict = gr.HTML(elem_id="verdict", padding=True)
        result = gr.JSON(label="Result (JSON)")
    return VerifyTab(claim, check, verdict, result)
