"""The webapp's entry point: `streamlit run webapp/app.py`."""

import streamlit as st
from PIL import Image, ImageDraw

from creditops.palette import HEX


def favicon() -> Image.Image:
    """A card, drawn here: Material icon favicons are fetched from Google, which a bank's
    network (and the browser test) does not reach."""
    icon = Image.new("RGBA", (64, 64))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((4, 12, 60, 52), radius=7, fill=HEX["green"])
    draw.rectangle((4, 20, 60, 28), fill="#1d2939")
    return icon


st.set_page_config(page_title="creditops", page_icon=favicon(), layout="wide")
navigation = st.navigation(
    [
        st.Page(
            "views/predict.py", title="Predict", icon=":material/online_prediction:", default=True
        ),
        st.Page("views/past_predictions.py", title="Past predictions", icon=":material/history:"),
        st.Page("views/monitoring.py", title="Monitoring", icon=":material/monitor_heart:"),
        st.Page("views/model.py", title="Model", icon=":material/monitoring:"),
    ]
)
navigation.run()
