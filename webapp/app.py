"""The webapp's entry point: `streamlit run webapp/app.py`."""

import streamlit as st

st.set_page_config(page_title="creditops", page_icon=":material/credit_score:", layout="wide")
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
