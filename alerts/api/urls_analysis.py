from django.urls import path

from alerts.api import views_analysis as views

urlpatterns = [
    path("api/v1/monitoring/analysis/llm", views.analysis_llm, name="analysis-llm"),
    path("api/analytics/insights", views.insights, name="analytics-insights"),
    path("api/analytics/insights/", views.insights),
    path("api/v1/alerts/<int:pk>/analyze", views.analyse_alert, name="alert-analyze"),
    path("api/v1/analyses", views.analysis_list, name="analysis-list"),
    path("api/v1/analyses/<int:pk>", views.analysis_detail, name="analysis-detail"),
]
