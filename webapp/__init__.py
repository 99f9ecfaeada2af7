"""The Streamlit webapp: talks to the model service over HTTP only."""
