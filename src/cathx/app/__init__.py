"""`cathx app`: a local web page (Gradio) to run a catheter model on an upload and look at the results.

``cathx.app.session`` does the work (models, upload checks, predictions into the app's temporary
folder, download files); ``cathx.app.ui`` is the page. The app sits beside inference in the layers:
it uses inference, postprocess and data, and nothing below imports it.
"""
